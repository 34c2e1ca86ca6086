-- Issue 13 (started): a cycle's cost must not grow with the age of the store. Follow-ups are
-- planned for the incidents first seen in the last 200 days; this index finds them without
-- reading every incident the tenant ever had.
CREATE INDEX incidents_by_first_seen ON incidents (tenant, first_seen_ms);
