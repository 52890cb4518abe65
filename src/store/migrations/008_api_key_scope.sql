-- What a key may do: 'full' (everything) or 'read_only' (GET requests only,
-- for dashboards and monitoring). Keys made before scopes existed stay full.
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'full' CHECK (scope IN ('full', 'read_only'));
