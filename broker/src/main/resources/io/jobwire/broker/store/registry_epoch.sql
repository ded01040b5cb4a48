-- Read by every broker each second: its registry cache reloads when this moved.
SELECT epoch FROM type_registry_epoch
