// HTTP/2 flow-control windows for the sessions the proxy opens and accepts.
// The protocol's defaults (64 KiB per stream and per connection) cap one
// session's throughput at 64 KiB per round trip, shared by every stream on
// it; between two sidecars all traffic of a peer pair rides one session.
// Larger windows are credit, not buffers: a paused stream holds at most its
// stream window in memory.

/** Per-stream window (SETTINGS_INITIAL_WINDOW_SIZE) announced by client and server sessions. */
export const H2_STREAM_WINDOW = 1 << 20; // 1 MiB

/** Connection-level receive window, raised once the session is up (setLocalWindowSize). */
export const H2_CONNECTION_WINDOW = 16 << 20; // 16 MiB

export const H2_SETTINGS = { initialWindowSize: H2_STREAM_WINDOW, maxConcurrentStreams: 1000 } as const;

/** Raise a session's connection window; safe to call before 'connect' (it waits for it). */
export function widenConnectionWindow(session: { setLocalWindowSize(n: number): void; once(e: 'connect' | 'remoteSettings', f: () => void): unknown; connecting?: boolean; destroyed: boolean }): void {
  const apply = (): void => {
    if (session.destroyed) return;
    try {
      session.setLocalWindowSize(H2_CONNECTION_WINDOW);
    } catch {
      // session already closing: nothing to widen
    }
  };
  if (session.connecting) session.once('connect', apply);
  else apply();
}
