-- Read by every broker each second: its copy of who has quotas reloads when this moved.
SELECT epoch FROM quotas_epoch
