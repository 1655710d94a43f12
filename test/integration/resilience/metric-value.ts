// Reads /metrics of a test proxy and sums the series of one family whose
// labels include the given ones (0 when none match yet).
import { request } from '../../harness/http-client.ts';

export async function scrape(adminPort: number): Promise<string> {
  return (await request(adminPort, { path: '/metrics' })).body;
}

export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export async function metric(adminPort: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await scrape(adminPort), name, labels);
}
