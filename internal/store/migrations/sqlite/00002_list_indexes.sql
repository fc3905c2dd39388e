-- +goose Up
-- Scoped lists page by ID inside a parent: these let the database read a
-- page straight off an index instead of sorting the whole scope.
CREATE INDEX vdcs_by_org_id ON vdcs (org_id, id);
CREATE INDEX zones_by_region_id ON zones (region_id, id);
CREATE INDEX hosts_by_zone_id ON hosts (zone_id, id);
CREATE INDEX tokens_by_user_id ON tokens (user_id, id);
CREATE INDEX invitations_by_org_id ON invitations (org_id, id);

-- +goose Down
DROP INDEX invitations_by_org_id;
DROP INDEX tokens_by_user_id;
DROP INDEX hosts_by_zone_id;
DROP INDEX zones_by_region_id;
DROP INDEX vdcs_by_org_id;
