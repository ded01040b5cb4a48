-- In the same commit as every change of quotas.
UPDATE quotas_epoch SET epoch = epoch + 1
