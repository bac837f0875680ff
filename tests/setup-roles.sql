-- Roles the integration tests expect when PGLINE_TEST_PG_PORT points them at an existing
-- server (run as a superuser: psql -v ON_ERROR_STOP=1 -f tests/setup-roles.sql).
-- Keep in sync with src/cluster.rs. The server's pg_hba.conf must match, in this order
-- (and the server needs ssl = on with a certificate and client CA like the harness's):
--   hostssl   pgline_nossl   all 127.0.0.1/32 reject
--   hostnossl pgline_nossl   all 127.0.0.1/32 trust
--   hostnossl pgline_sslonly all 127.0.0.1/32 reject
--   host all postgres        127.0.0.1/32 trust
--   host all pgline_trust    127.0.0.1/32 trust
--   host all pgline_password 127.0.0.1/32 password
--   host all pgline_md5      127.0.0.1/32 md5
--   hostssl all pgline_cert  127.0.0.1/32 cert
--   host all all             127.0.0.1/32 scram-sha-256
\encoding UTF8
CREATE ROLE pgline_trust LOGIN;
CREATE ROLE pgline_password LOGIN PASSWORD 'pgline-password-pw';
-- Without this the md5 hba line silently upgrades to SCRAM.
SET password_encryption = 'md5';
CREATE ROLE pgline_md5 LOGIN PASSWORD 'pgline-md5-pw';
SET password_encryption = 'scram-sha-256';
CREATE ROLE pgline_scram LOGIN PASSWORD 'pgline-scram-pw';
CREATE ROLE pgline_scram_utf8 LOGIN PASSWORD 'pässwörd-Ωμέγα';
CREATE ROLE pgline_cert LOGIN;
CREATE DATABASE pgline_nossl;
CREATE DATABASE pgline_sslonly;
GRANT CREATE ON SCHEMA public TO PUBLIC;
