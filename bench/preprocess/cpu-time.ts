// CPU time of another process (Linux /proc), to time workerd independently of how busy the machine is.
import { readFileSync, readdirSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of `pid` in milliseconds (10 ms resolution). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND; // fields 14 and 15 of stat
}

/** The pid of a descendant process of `root` whose command name matches `name` (e.g. workerd). */
export function findDescendant(root: number, name: RegExp): number | null {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // the process exited while we looked
    }
  }
  for (const [pid, comm] of names) {
    if (!name.test(comm)) continue;
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === root) return pid;
  }
  return null;
}
