// CPU time of a process (all its threads) from /proc, in ms with ns resolution. On a shared 2-core box
// wall-clock latency depends on everyone else's load; CPU time per request mostly does not.
import { readdirSync, readFileSync } from "node:fs";

export function processCpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // thread exited between listing and reading
    }
  }
  return ns / 1e6;
}

/** Direct children of `parent` whose command name is `name` (e.g. the workerd Miniflare spawned). */
export function childPids(parent: number, name: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent && comm === name) out.push(Number(entry));
    } catch {
      // process exited
    }
  }
  return out;
}
