--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)


--
-- Name: agenthost_fixture; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA agenthost_fixture;




--
-- Name: agent_versions; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.agent_versions (
    agent_id text NOT NULL,
    version integer NOT NULL,
    body json NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: agents; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.agents (
    seq bigint NOT NULL,
    id text NOT NULL,
    workspace_id text NOT NULL,
    version integer NOT NULL,
    body json NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    archived_at timestamp with time zone
);


--
-- Name: agents_seq_seq; Type: SEQUENCE; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE agenthost_fixture.agents ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME agenthost_fixture.agents_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: api_keys; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.api_keys (
    id text NOT NULL,
    workspace_id text NOT NULL,
    hash text NOT NULL,
    prefix text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    scope text DEFAULT 'full'::text NOT NULL,
    CONSTRAINT api_keys_scope_check CHECK ((scope = ANY (ARRAY['full'::text, 'read_only'::text])))
);


--
-- Name: environments; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.environments (
    seq bigint NOT NULL,
    id text NOT NULL,
    workspace_id text NOT NULL,
    body json NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    archived_at timestamp with time zone
);


--
-- Name: environments_seq_seq; Type: SEQUENCE; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE agenthost_fixture.environments ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME agenthost_fixture.environments_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: events; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.events (
    id text NOT NULL,
    session_id text NOT NULL,
    seq bigint NOT NULL,
    type text NOT NULL,
    body json NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: files; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.files (
    seq bigint NOT NULL,
    id text NOT NULL,
    workspace_id text NOT NULL,
    filename text NOT NULL,
    mime_type text NOT NULL,
    size_bytes bigint NOT NULL,
    scope_id text,
    created_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone
);


--
-- Name: files_seq_seq; Type: SEQUENCE; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE agenthost_fixture.files ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME agenthost_fixture.files_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: idempotency_keys; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.idempotency_keys (
    workspace_id text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    response json NOT NULL,
    created_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL
);


--
-- Name: outbound_deliveries; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.outbound_deliveries (
    seq bigint NOT NULL,
    id text NOT NULL,
    endpoint_id text NOT NULL,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone,
    last_status_code integer,
    last_error text,
    created_at timestamp with time zone NOT NULL,
    delivered_at timestamp with time zone,
    CONSTRAINT outbound_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text])))
);


--
-- Name: outbound_deliveries_seq_seq; Type: SEQUENCE; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE agenthost_fixture.outbound_deliveries ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME agenthost_fixture.outbound_deliveries_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: outbound_webhooks; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.outbound_webhooks (
    seq bigint NOT NULL,
    id text NOT NULL,
    workspace_id text NOT NULL,
    url text NOT NULL,
    secret text NOT NULL,
    event_types jsonb NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: outbound_webhooks_seq_seq; Type: SEQUENCE; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE agenthost_fixture.outbound_webhooks ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME agenthost_fixture.outbound_webhooks_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: schema_migrations; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: sessions; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.sessions (
    seq bigint NOT NULL,
    id text NOT NULL,
    workspace_id text NOT NULL,
    agent_id text NOT NULL,
    agent_version integer NOT NULL,
    environment_id text NOT NULL,
    status text NOT NULL,
    body json NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    archived_at timestamp with time zone,
    CONSTRAINT sessions_status_check CHECK ((status = ANY (ARRAY['idle'::text, 'running'::text, 'rescheduling'::text, 'terminated'::text])))
);


--
-- Name: sessions_seq_seq; Type: SEQUENCE; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE agenthost_fixture.sessions ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME agenthost_fixture.sessions_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: transcript_entries; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.transcript_entries (
    project_key text NOT NULL,
    session_id text NOT NULL,
    subpath text NOT NULL,
    seq bigint NOT NULL,
    uuid text,
    body json NOT NULL
);


--
-- Name: transcripts; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.transcripts (
    project_key text NOT NULL,
    session_id text NOT NULL,
    subpath text NOT NULL,
    last_seq bigint NOT NULL,
    mtime bigint NOT NULL
);


--
-- Name: triggers; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.triggers (
    seq bigint NOT NULL,
    id text NOT NULL,
    workspace_id text NOT NULL,
    session_id text NOT NULL,
    kind text NOT NULL,
    body json NOT NULL,
    secret text,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    last_fired_at timestamp with time zone,
    next_fire_at timestamp with time zone,
    disabled_at timestamp with time zone,
    disabled_reason text,
    CONSTRAINT triggers_kind_check CHECK ((kind = ANY (ARRAY['cron'::text, 'webhook'::text])))
);


--
-- Name: triggers_seq_seq; Type: SEQUENCE; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE agenthost_fixture.triggers ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME agenthost_fixture.triggers_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: usage_records; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.usage_records (
    seq bigint NOT NULL,
    workspace_id text NOT NULL,
    session_id text NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    input_tokens bigint DEFAULT 0 NOT NULL,
    output_tokens bigint DEFAULT 0 NOT NULL,
    cache_creation_input_tokens bigint DEFAULT 0 NOT NULL,
    cache_read_input_tokens bigint DEFAULT 0 NOT NULL,
    sandbox_seconds double precision DEFAULT 0 NOT NULL,
    usd double precision NOT NULL,
    at timestamp with time zone NOT NULL,
    CONSTRAINT usage_records_kind_check CHECK ((kind = ANY (ARRAY['tokens'::text, 'sandbox'::text])))
);


--
-- Name: usage_records_seq_seq; Type: SEQUENCE; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE agenthost_fixture.usage_records ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME agenthost_fixture.usage_records_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: webhook_deliveries; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.webhook_deliveries (
    trigger_id text NOT NULL,
    signature text NOT NULL,
    expires_at timestamp with time zone NOT NULL
);


--
-- Name: workspace_budgets; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.workspace_budgets (
    workspace_id text NOT NULL,
    daily_usd double precision,
    total_usd double precision,
    updated_at timestamp with time zone NOT NULL
);


--
-- Name: workspaces; Type: TABLE; Schema: agenthost_fixture; Owner: -
--

CREATE TABLE agenthost_fixture.workspaces (
    id text NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Data for Name: agent_versions; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.agent_versions VALUES ('agent_a', 1, '{"name":"helper","model":"claude-sonnet-4-5"}', '2025-01-01 00:00:10+00');
INSERT INTO agenthost_fixture.agent_versions VALUES ('agent_a', 2, '{"name":"tricky","system":"line one\nline \"two\" \\ ünïcødé 🚀 and a NUL \u0000 here","tools":[{"type":"agent_toolset_20250522","configs":[]},null,1.5,0,1e+21,true],"metadata":{"nested":{"key with spaces":"value"}}}', '2025-01-01 00:00:11+00');
INSERT INTO agenthost_fixture.agent_versions VALUES ('agent_b', 1, '{"name":"old"}', '2025-01-01 00:00:12+00');


--
-- Data for Name: agents; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.agents OVERRIDING SYSTEM VALUE VALUES (1, 'agent_a', 'wrkspc_sample', 2, '{"name":"tricky","system":"line one\nline \"two\" \\ ünïcødé 🚀 and a NUL \u0000 here","tools":[{"type":"agent_toolset_20250522","configs":[]},null,1.5,0,1e+21,true],"metadata":{"nested":{"key with spaces":"value"}}}', '2025-01-01 00:00:10+00', '2025-01-01 00:00:11+00', NULL);
INSERT INTO agenthost_fixture.agents OVERRIDING SYSTEM VALUE VALUES (2, 'agent_b', 'wrkspc_sample', 1, '{"name":"old"}', '2025-01-01 00:00:12+00', '2025-01-01 00:00:13+00', '2025-01-01 00:00:13+00');


--
-- Data for Name: api_keys; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.api_keys VALUES ('key_full', 'wrkspc_sample', 'hash-full', 'sk-ah-full', '2025-01-01 00:00:02+00', NULL, 'full');
INSERT INTO agenthost_fixture.api_keys VALUES ('key_read', 'wrkspc_sample', 'hash-read', 'sk-ah-read', '2025-01-01 00:00:03+00', NULL, 'read_only');
INSERT INTO agenthost_fixture.api_keys VALUES ('key_gone', 'wrkspc_sample', 'hash-gone', 'sk-ah-gone', '2025-01-01 00:00:04+00', '2025-01-01 00:00:05+00', 'full');


--
-- Data for Name: environments; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.environments OVERRIDING SYSTEM VALUE VALUES (1, 'env_a', 'wrkspc_sample', '{"name":"default","config":{"type":"cloud"}}', '2025-01-01 00:00:20+00', '2025-01-01 00:00:20+00', NULL);
INSERT INTO agenthost_fixture.environments OVERRIDING SYSTEM VALUE VALUES (2, 'env_b', 'wrkspc_sample', '{"name":"gone"}', '2025-01-01 00:00:21+00', '2025-01-01 00:00:22+00', '2025-01-01 00:00:22+00');


--
-- Data for Name: events; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.events VALUES ('sevt_sample1', 'sesn_a', 1, 'session.status_idle', '{"id":"sevt_sample1","type":"session.status_idle","processed_at":"2025-01-01T00:01:41.000Z"}', '2025-01-01 00:01:41+00');
INSERT INTO agenthost_fixture.events VALUES ('sevt_sample2', 'sesn_a', 2, 'user.message', '{"id":"sevt_sample2","type":"user.message","processed_at":"2025-01-01T00:01:42.000Z","content":[{"type":"text","text":"line one\nline \"two\" \\ ünïcødé 🚀 and a NUL \u0000 here"}]}', '2025-01-01 00:01:42+00');
INSERT INTO agenthost_fixture.events VALUES ('sevt_sample3', 'sesn_a', 3, 'session.status_running', '{"id":"sevt_sample3","type":"session.status_running","processed_at":"2025-01-01T00:01:43.000Z"}', '2025-01-01 00:01:43+00');
INSERT INTO agenthost_fixture.events VALUES ('sevt_sample4', 'sesn_a', 4, 'agent.message', '{"id":"sevt_sample4","type":"agent.message","processed_at":"2025-01-01T00:01:44.000Z","content":[{"type":"text","text":"done"}]}', '2025-01-01 00:01:44+00');
INSERT INTO agenthost_fixture.events VALUES ('sevt_sample5', 'sesn_a', 5, 'session.status_idle', '{"id":"sevt_sample5","type":"session.status_idle","processed_at":"2025-01-01T00:01:45.000Z"}', '2025-01-01 00:01:45+00');


--
-- Data for Name: files; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.files OVERRIDING SYSTEM VALUE VALUES (1, 'file_up', 'wrkspc_sample', 'notes.md', 'text/markdown', 12, NULL, '2025-01-01 00:00:50+00', NULL);
INSERT INTO agenthost_fixture.files OVERRIDING SYSTEM VALUE VALUES (2, 'file_out', 'wrkspc_sample', 'out/report.csv', 'text/csv', 3000000000, 'sesn_a', '2025-01-01 00:00:51+00', '2025-01-01 02:30:00+00');


--
-- Data for Name: idempotency_keys; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.idempotency_keys VALUES ('wrkspc_sample', 'idem-1', 'req-hash', '{"data":[{"id":"sevt_sample2"}]}', '2025-01-01 00:01:42+00', '2028-03-03 09:46:40+00');


--
-- Data for Name: outbound_deliveries; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.outbound_deliveries OVERRIDING SYSTEM VALUE VALUES (2, 'whd_2', 'whe_a', 'session.status_idle', '{"data": {"id": "sevt_sample5"}, "type": "event"}', 'pending', 0, '2025-01-01 00:01:45+00', NULL, NULL, '2025-01-01 00:01:45+00', NULL);
INSERT INTO agenthost_fixture.outbound_deliveries OVERRIDING SYSTEM VALUE VALUES (1, 'whd_1', 'whe_a', 'session.status_idle', '{"data": {"id": "sevt_sample1"}, "type": "event"}', 'delivered', 1, NULL, 204, NULL, '2025-01-01 00:01:21+00', '2025-01-01 00:01:22+00');


--
-- Data for Name: outbound_webhooks; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.outbound_webhooks OVERRIDING SYSTEM VALUE VALUES (1, 'whe_a', 'wrkspc_sample', 'https://example.com/hook', 'sek', '["session.status_idle"]', '2025-01-01 00:01:20+00');


--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.schema_migrations VALUES (1, 'init', '2026-12-07 15:22:38.124754+00');
INSERT INTO agenthost_fixture.schema_migrations VALUES (2, 'transcripts', '2026-12-07 15:22:38.124754+00');
INSERT INTO agenthost_fixture.schema_migrations VALUES (3, 'idempotency', '2026-12-07 15:22:38.124754+00');
INSERT INTO agenthost_fixture.schema_migrations VALUES (4, 'files', '2026-12-07 15:22:38.124754+00');
INSERT INTO agenthost_fixture.schema_migrations VALUES (5, 'triggers', '2026-12-07 15:22:38.124754+00');
INSERT INTO agenthost_fixture.schema_migrations VALUES (6, 'usage', '2026-12-07 15:22:38.124754+00');
INSERT INTO agenthost_fixture.schema_migrations VALUES (7, 'webhooks', '2026-12-07 15:22:38.124754+00');
INSERT INTO agenthost_fixture.schema_migrations VALUES (8, 'api_key_scope', '2026-12-07 15:22:38.124754+00');


--
-- Data for Name: sessions; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.sessions OVERRIDING SYSTEM VALUE VALUES (1, 'sesn_a', 'wrkspc_sample', 'agent_a', 2, 'env_a', 'idle', '{"title":"sample","metadata":{"k":"v"},"usage":{"input_tokens":0,"output_tokens":0},"runtime":{"sandbox_state":"running"}}', '2025-01-01 00:00:30+00', '2025-01-01 00:01:45+00', NULL);
INSERT INTO agenthost_fixture.sessions OVERRIDING SYSTEM VALUE VALUES (2, 'sesn_b', 'wrkspc_sample', 'agent_a', 2, 'env_a', 'terminated', '{"title":"sample","metadata":{"k":"v"},"usage":{"input_tokens":0,"output_tokens":0}}', '2025-01-01 00:00:40+00', '2025-01-01 00:00:41+00', '2025-01-01 00:00:41+00');


--
-- Data for Name: transcript_entries; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.transcript_entries VALUES ('-work-sample', 'cc-session-1', '', 1, 'u-1', '{"type":"user","uuid":"u-1","message":{"content":"hi"}}');
INSERT INTO agenthost_fixture.transcript_entries VALUES ('-work-sample', 'cc-session-1', '', 2, NULL, '{"type":"summary","summary":"no uuid"}');
INSERT INTO agenthost_fixture.transcript_entries VALUES ('-work-sample', 'cc-session-1', '', 3, 'u-2', '{"type":"assistant","uuid":"u-2","message":{"content":"line one\nline \"two\" \\ ünïcødé 🚀 and a NUL \u0000 here"}}');
INSERT INTO agenthost_fixture.transcript_entries VALUES ('-work-sample', 'cc-session-1', 'subagents/agent-a', 1, 'u-3', '{"type":"user","uuid":"u-3","message":{"content":"sub"}}');


--
-- Data for Name: transcripts; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.transcripts VALUES ('-work-sample', 'cc-session-1', '', 3, 1796656958848);
INSERT INTO agenthost_fixture.transcripts VALUES ('-work-sample', 'cc-session-1', 'subagents/agent-a', 1, 1796656958853);
INSERT INTO agenthost_fixture.transcripts VALUES ('-work-sample', 'cc-empty', '', 0, 1796656958857);


--
-- Data for Name: triggers; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.triggers OVERRIDING SYSTEM VALUE VALUES (2, 'trg_hook', 'wrkspc_sample', 'sesn_a', 'webhook', '{"message_template":"got {{body}}"}', 'whsec', '2025-01-01 00:01:00+00', '2025-01-01 00:01:00+00', NULL, NULL, NULL, NULL);
INSERT INTO agenthost_fixture.triggers OVERRIDING SYSTEM VALUE VALUES (1, 'trg_cron', 'wrkspc_sample', 'sesn_a', 'cron', '{"schedule":"*/5 * * * *","message":"tick"}', NULL, '2025-01-01 00:01:00+00', '2025-01-01 00:01:00+00', '2025-01-01 00:05:01+00', '2025-01-01 00:10:00+00', NULL, NULL);


--
-- Data for Name: usage_records; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.usage_records OVERRIDING SYSTEM VALUE VALUES (1, 'wrkspc_sample', 'sesn_a', 'tokens', 'claude-sonnet-4-5', 1200, 300, 0, 7, 0, 0.0081, '2025-01-01 00:01:10+00');
INSERT INTO agenthost_fixture.usage_records OVERRIDING SYSTEM VALUE VALUES (2, 'wrkspc_sample', 'sesn_a', 'sandbox', 'bwrap', 0, 0, 0, 0, 12.5, 0.0004, '2025-01-01 00:01:11+00');


--
-- Data for Name: webhook_deliveries; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.webhook_deliveries VALUES ('trg_hook', 'sig-1', '2028-03-03 09:46:40+00');


--
-- Data for Name: workspace_budgets; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.workspace_budgets VALUES ('wrkspc_sample', 5, NULL, '2025-01-01 00:01:12+00');


--
-- Data for Name: workspaces; Type: TABLE DATA; Schema: agenthost_fixture; Owner: -
--

INSERT INTO agenthost_fixture.workspaces VALUES ('wrkspc_sample', 'default', '2025-01-01 00:00:00+00');
INSERT INTO agenthost_fixture.workspaces VALUES ('wrkspc_other', 'other', '2025-01-01 00:00:01+00');


--
-- Name: agents_seq_seq; Type: SEQUENCE SET; Schema: agenthost_fixture; Owner: -
--

SELECT pg_catalog.setval('agenthost_fixture.agents_seq_seq', 2, true);


--
-- Name: environments_seq_seq; Type: SEQUENCE SET; Schema: agenthost_fixture; Owner: -
--

SELECT pg_catalog.setval('agenthost_fixture.environments_seq_seq', 2, true);


--
-- Name: files_seq_seq; Type: SEQUENCE SET; Schema: agenthost_fixture; Owner: -
--

SELECT pg_catalog.setval('agenthost_fixture.files_seq_seq', 2, true);


--
-- Name: outbound_deliveries_seq_seq; Type: SEQUENCE SET; Schema: agenthost_fixture; Owner: -
--

SELECT pg_catalog.setval('agenthost_fixture.outbound_deliveries_seq_seq', 2, true);


--
-- Name: outbound_webhooks_seq_seq; Type: SEQUENCE SET; Schema: agenthost_fixture; Owner: -
--

SELECT pg_catalog.setval('agenthost_fixture.outbound_webhooks_seq_seq', 1, true);


--
-- Name: sessions_seq_seq; Type: SEQUENCE SET; Schema: agenthost_fixture; Owner: -
--

SELECT pg_catalog.setval('agenthost_fixture.sessions_seq_seq', 2, true);


--
-- Name: triggers_seq_seq; Type: SEQUENCE SET; Schema: agenthost_fixture; Owner: -
--

SELECT pg_catalog.setval('agenthost_fixture.triggers_seq_seq', 2, true);


--
-- Name: usage_records_seq_seq; Type: SEQUENCE SET; Schema: agenthost_fixture; Owner: -
--

SELECT pg_catalog.setval('agenthost_fixture.usage_records_seq_seq', 2, true);


--
-- Name: agent_versions agent_versions_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.agent_versions
    ADD CONSTRAINT agent_versions_pkey PRIMARY KEY (agent_id, version);


--
-- Name: agents agents_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.agents
    ADD CONSTRAINT agents_pkey PRIMARY KEY (id);


--
-- Name: agents agents_seq_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.agents
    ADD CONSTRAINT agents_seq_key UNIQUE (seq);


--
-- Name: agents agents_workspace_id_id_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.agents
    ADD CONSTRAINT agents_workspace_id_id_key UNIQUE (workspace_id, id);


--
-- Name: api_keys api_keys_hash_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.api_keys
    ADD CONSTRAINT api_keys_hash_key UNIQUE (hash);


--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);


--
-- Name: environments environments_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.environments
    ADD CONSTRAINT environments_pkey PRIMARY KEY (id);


--
-- Name: environments environments_seq_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.environments
    ADD CONSTRAINT environments_seq_key UNIQUE (seq);


--
-- Name: environments environments_workspace_id_id_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.environments
    ADD CONSTRAINT environments_workspace_id_id_key UNIQUE (workspace_id, id);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);


--
-- Name: events events_session_id_seq_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.events
    ADD CONSTRAINT events_session_id_seq_key UNIQUE (session_id, seq);


--
-- Name: files files_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.files
    ADD CONSTRAINT files_pkey PRIMARY KEY (id);


--
-- Name: files files_seq_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.files
    ADD CONSTRAINT files_seq_key UNIQUE (seq);


--
-- Name: idempotency_keys idempotency_keys_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (workspace_id, key);


--
-- Name: outbound_deliveries outbound_deliveries_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.outbound_deliveries
    ADD CONSTRAINT outbound_deliveries_pkey PRIMARY KEY (id);


--
-- Name: outbound_deliveries outbound_deliveries_seq_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.outbound_deliveries
    ADD CONSTRAINT outbound_deliveries_seq_key UNIQUE (seq);


--
-- Name: outbound_webhooks outbound_webhooks_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.outbound_webhooks
    ADD CONSTRAINT outbound_webhooks_pkey PRIMARY KEY (id);


--
-- Name: outbound_webhooks outbound_webhooks_seq_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.outbound_webhooks
    ADD CONSTRAINT outbound_webhooks_seq_key UNIQUE (seq);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);


--
-- Name: sessions sessions_seq_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.sessions
    ADD CONSTRAINT sessions_seq_key UNIQUE (seq);


--
-- Name: transcript_entries transcript_entries_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.transcript_entries
    ADD CONSTRAINT transcript_entries_pkey PRIMARY KEY (project_key, session_id, subpath, seq);


--
-- Name: transcripts transcripts_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.transcripts
    ADD CONSTRAINT transcripts_pkey PRIMARY KEY (project_key, session_id, subpath);


--
-- Name: triggers triggers_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.triggers
    ADD CONSTRAINT triggers_pkey PRIMARY KEY (id);


--
-- Name: triggers triggers_seq_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.triggers
    ADD CONSTRAINT triggers_seq_key UNIQUE (seq);


--
-- Name: usage_records usage_records_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.usage_records
    ADD CONSTRAINT usage_records_pkey PRIMARY KEY (seq);


--
-- Name: webhook_deliveries webhook_deliveries_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (trigger_id, signature);


--
-- Name: workspace_budgets workspace_budgets_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.workspace_budgets
    ADD CONSTRAINT workspace_budgets_pkey PRIMARY KEY (workspace_id);


--
-- Name: workspaces workspaces_name_key; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.workspaces
    ADD CONSTRAINT workspaces_name_key UNIQUE (name);


--
-- Name: workspaces workspaces_pkey; Type: CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.workspaces
    ADD CONSTRAINT workspaces_pkey PRIMARY KEY (id);


--
-- Name: agents_workspace_seq; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX agents_workspace_seq ON agenthost_fixture.agents USING btree (workspace_id, seq);


--
-- Name: api_keys_workspace; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX api_keys_workspace ON agenthost_fixture.api_keys USING btree (workspace_id);


--
-- Name: environments_workspace_seq; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX environments_workspace_seq ON agenthost_fixture.environments USING btree (workspace_id, seq);


--
-- Name: files_scope; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX files_scope ON agenthost_fixture.files USING btree (workspace_id, scope_id, seq) WHERE (scope_id IS NOT NULL);


--
-- Name: files_workspace_seq; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX files_workspace_seq ON agenthost_fixture.files USING btree (workspace_id, seq);


--
-- Name: idempotency_keys_expires; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX idempotency_keys_expires ON agenthost_fixture.idempotency_keys USING btree (expires_at);


--
-- Name: outbound_deliveries_due; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX outbound_deliveries_due ON agenthost_fixture.outbound_deliveries USING btree (next_attempt_at) WHERE (status = 'pending'::text);


--
-- Name: outbound_deliveries_endpoint; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX outbound_deliveries_endpoint ON agenthost_fixture.outbound_deliveries USING btree (endpoint_id, seq);


--
-- Name: outbound_webhooks_workspace; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX outbound_webhooks_workspace ON agenthost_fixture.outbound_webhooks USING btree (workspace_id, seq);


--
-- Name: sessions_agent; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX sessions_agent ON agenthost_fixture.sessions USING btree (agent_id, agent_version);


--
-- Name: sessions_environment; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX sessions_environment ON agenthost_fixture.sessions USING btree (workspace_id, environment_id);


--
-- Name: sessions_status; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX sessions_status ON agenthost_fixture.sessions USING btree (status);


--
-- Name: sessions_workspace_seq; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX sessions_workspace_seq ON agenthost_fixture.sessions USING btree (workspace_id, seq);


--
-- Name: transcript_entries_uuid; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE UNIQUE INDEX transcript_entries_uuid ON agenthost_fixture.transcript_entries USING btree (project_key, session_id, subpath, uuid) WHERE (uuid IS NOT NULL);


--
-- Name: triggers_due; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX triggers_due ON agenthost_fixture.triggers USING btree (next_fire_at) WHERE ((next_fire_at IS NOT NULL) AND (disabled_at IS NULL));


--
-- Name: triggers_session_seq; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX triggers_session_seq ON agenthost_fixture.triggers USING btree (session_id, seq);


--
-- Name: usage_records_at; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX usage_records_at ON agenthost_fixture.usage_records USING btree (at);


--
-- Name: usage_records_workspace_at; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX usage_records_workspace_at ON agenthost_fixture.usage_records USING btree (workspace_id, at);


--
-- Name: webhook_deliveries_expiry; Type: INDEX; Schema: agenthost_fixture; Owner: -
--

CREATE INDEX webhook_deliveries_expiry ON agenthost_fixture.webhook_deliveries USING btree (expires_at);


--
-- Name: agent_versions agent_versions_agent_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.agent_versions
    ADD CONSTRAINT agent_versions_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES agenthost_fixture.agents(id);


--
-- Name: agents agents_workspace_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.agents
    ADD CONSTRAINT agents_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES agenthost_fixture.workspaces(id);


--
-- Name: api_keys api_keys_workspace_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.api_keys
    ADD CONSTRAINT api_keys_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES agenthost_fixture.workspaces(id);


--
-- Name: environments environments_workspace_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.environments
    ADD CONSTRAINT environments_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES agenthost_fixture.workspaces(id);


--
-- Name: events events_session_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.events
    ADD CONSTRAINT events_session_id_fkey FOREIGN KEY (session_id) REFERENCES agenthost_fixture.sessions(id) ON DELETE CASCADE;


--
-- Name: files files_workspace_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.files
    ADD CONSTRAINT files_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES agenthost_fixture.workspaces(id);


--
-- Name: idempotency_keys idempotency_keys_workspace_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.idempotency_keys
    ADD CONSTRAINT idempotency_keys_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES agenthost_fixture.workspaces(id);


--
-- Name: outbound_deliveries outbound_deliveries_endpoint_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.outbound_deliveries
    ADD CONSTRAINT outbound_deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES agenthost_fixture.outbound_webhooks(id) ON DELETE CASCADE;


--
-- Name: outbound_webhooks outbound_webhooks_workspace_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.outbound_webhooks
    ADD CONSTRAINT outbound_webhooks_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES agenthost_fixture.workspaces(id);


--
-- Name: sessions sessions_agent_id_agent_version_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.sessions
    ADD CONSTRAINT sessions_agent_id_agent_version_fkey FOREIGN KEY (agent_id, agent_version) REFERENCES agenthost_fixture.agent_versions(agent_id, version);


--
-- Name: sessions sessions_workspace_id_agent_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.sessions
    ADD CONSTRAINT sessions_workspace_id_agent_id_fkey FOREIGN KEY (workspace_id, agent_id) REFERENCES agenthost_fixture.agents(workspace_id, id);


--
-- Name: sessions sessions_workspace_id_environment_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.sessions
    ADD CONSTRAINT sessions_workspace_id_environment_id_fkey FOREIGN KEY (workspace_id, environment_id) REFERENCES agenthost_fixture.environments(workspace_id, id);


--
-- Name: sessions sessions_workspace_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.sessions
    ADD CONSTRAINT sessions_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES agenthost_fixture.workspaces(id);


--
-- Name: transcript_entries transcript_entries_project_key_session_id_subpath_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.transcript_entries
    ADD CONSTRAINT transcript_entries_project_key_session_id_subpath_fkey FOREIGN KEY (project_key, session_id, subpath) REFERENCES agenthost_fixture.transcripts(project_key, session_id, subpath) ON DELETE CASCADE;


--
-- Name: triggers triggers_session_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.triggers
    ADD CONSTRAINT triggers_session_id_fkey FOREIGN KEY (session_id) REFERENCES agenthost_fixture.sessions(id) ON DELETE CASCADE;


--
-- Name: triggers triggers_workspace_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.triggers
    ADD CONSTRAINT triggers_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES agenthost_fixture.workspaces(id);


--
-- Name: usage_records usage_records_workspace_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.usage_records
    ADD CONSTRAINT usage_records_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES agenthost_fixture.workspaces(id);


--
-- Name: webhook_deliveries webhook_deliveries_trigger_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_trigger_id_fkey FOREIGN KEY (trigger_id) REFERENCES agenthost_fixture.triggers(id) ON DELETE CASCADE;


--
-- Name: workspace_budgets workspace_budgets_workspace_id_fkey; Type: FK CONSTRAINT; Schema: agenthost_fixture; Owner: -
--

ALTER TABLE ONLY agenthost_fixture.workspace_budgets
    ADD CONSTRAINT workspace_budgets_workspace_id_fkey FOREIGN KEY (workspace_id) REFERENCES agenthost_fixture.workspaces(id);


--
-- PostgreSQL database dump complete
--


