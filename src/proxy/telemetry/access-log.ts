// JSON access-log lines, batched and written once per event-loop turn so the
// request path never waits on stdout. A slow reader loses lines (counted),
// it never stalls traffic or grows memory without bound.

const MAX_PENDING_BYTES = 4 * 1024 * 1024;

export interface AccessLogEntry {
  time: string;
  kind: 'http' | 'tcp';
  direction: string;
  listener: string;
  source: string;
  destination: string;
  route?: string;
  method?: string;
  path?: string;
  authority?: string;
  protocol: string;
  status?: number;
  duration_ms: number;
  bytes_in: number;
  bytes_out: number;
  upstream?: string;
  cluster?: string;
  version?: string;
  error?: string;
  /** Upstream attempts when more than one (retries), and "from>to" when a failover cluster served. */
  attempts?: number;
  failover?: string;
  trace_id?: string;
  /** The verified caller (mTLS) and the TLS version it used. */
  peer_identity?: string;
  tls_version?: string;
  /** Audit-mode authorization: the rule that would have denied. */
  authz?: string;
}

export class AccessLog {
  private readonly stream: NodeJS.WritableStream;
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private blocked = false;
  dropped = 0;

  constructor(stream: NodeJS.WritableStream) {
    this.stream = stream;
  }

  write(entry: AccessLogEntry): void {
    const line = JSON.stringify(entry);
    if (this.pendingBytes + line.length > MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length + 1;
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    this.pendingBytes = 0;
    const ok = this.stream.write(text);
    if (!ok) {
      this.blocked = true;
      this.stream.once('drain', this.onDrain);
    }
  };

  private readonly onDrain = (): void => {
    this.blocked = false;
    this.flush();
  };
}
