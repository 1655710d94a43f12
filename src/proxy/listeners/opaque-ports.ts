// Ports where the server speaks first (SMTP, MySQL, Postgres, Redis, ...):
// an `auto` listener on one of them skips detection, as linkerd's default
// opaque ports do. Override per listener with protocol "http" or "tcp".
export const DEFAULT_OPAQUE_PORTS: ReadonlySet<number> = new Set([25, 587, 3306, 4444, 4567, 4568, 5432, 6379, 9300, 11211]);
