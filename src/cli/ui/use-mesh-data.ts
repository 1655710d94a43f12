// Polls the controller every intervalMs and keeps the last good round. A
// failed round keeps the old data and records why, so the dashboard can say
// "unreachable, last good data 12s ago" instead of freezing; polling goes on.
import { useEffect, useState } from 'react';
import { fetchMeshData, type MeshData, type MeshDataSource } from './fetch-mesh-data.ts';

export type MeshDataState = {
  data?: MeshData;
  /** Why the last round failed; cleared by the next good one. */
  error?: string;
  /** The figures may not be current: the controller is unreachable or its discovery is stale. */
  stale: boolean;
  /** When the last good round completed. */
  lastOkAt?: number;
  /** When the last round (good or not) completed: the "now" the screen is drawn for. */
  checkedAt?: number;
};

export function useMeshData(client: MeshDataSource, intervalMs: number, opts: { paused?: boolean } = {}): MeshDataState {
  const [state, setState] = useState<MeshDataState>({ stale: false });
  const paused = opts.paused ?? false;
  useEffect(() => {
    if (paused) return;
    let cancelled = false;
    let timer: NodeJS.Timeout | undefined;
    const round = async () => {
      try {
        const data = await fetchMeshData(client);
        if (cancelled) return;
        setState({ data, stale: data.health.discovery.stale, lastOkAt: data.at, checkedAt: data.at });
      } catch (err) {
        if (cancelled) return;
        const at = Date.now();
        setState((prev) => ({ ...prev, error: (err as Error).message, stale: true, checkedAt: at }));
      }
      if (!cancelled) timer = setTimeout(() => void round(), intervalMs);
    };
    void round();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [client, intervalMs, paused]);
  return state;
}
