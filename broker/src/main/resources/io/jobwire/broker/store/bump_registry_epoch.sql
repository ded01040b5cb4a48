-- In the same commit as every change of type_registry.
UPDATE type_registry_epoch SET epoch = epoch + 1
