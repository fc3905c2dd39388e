-- +goose Up
-- What an egress sample is priced by: the VM's VDC, region and allocation
-- model, and its name for the bill, kept with the sample since the VM may
-- be gone when its window is rated.
ALTER TABLE egress_samples ADD COLUMN vdc_id TEXT NOT NULL DEFAULT '';
ALTER TABLE egress_samples ADD COLUMN region_id TEXT NOT NULL DEFAULT '';
ALTER TABLE egress_samples ADD COLUMN allocation_model TEXT NOT NULL DEFAULT '';
ALTER TABLE egress_samples ADD COLUMN vm_name TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE egress_samples DROP COLUMN vm_name;
ALTER TABLE egress_samples DROP COLUMN allocation_model;
ALTER TABLE egress_samples DROP COLUMN region_id;
ALTER TABLE egress_samples DROP COLUMN vdc_id;
