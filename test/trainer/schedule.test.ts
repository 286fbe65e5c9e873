import { describe, expect, test } from "vitest";
import { combineSchedules, oneCycleSchedules, schedCos, schedExp, schedLin } from "../../trainer/src/learner/schedules.ts";

describe("schedules", () => {
  test("basic schedules hit their endpoints", () => {
    expect(schedLin(1, 3)(0)).toBe(1);
    expect(schedLin(1, 3)(1)).toBe(3);
    expect(schedLin(1, 3)(0.5)).toBe(2);
    expect(schedCos(1, 3)(0)).toBeCloseTo(1, 12);
    expect(schedCos(1, 3)(1)).toBeCloseTo(3, 12);
    expect(schedCos(1, 3)(0.5)).toBeCloseTo(2, 12);
    expect(schedExp(1e-7, 10)(0)).toBeCloseTo(1e-7, 20);
    expect(schedExp(1e-7, 10)(1)).toBeCloseTo(10, 9);
    expect(schedExp(1e-7, 10)(0.5)).toBeCloseTo(Math.sqrt(1e-6), 12);
  });

  test("combineSchedules gives each phase its own local position", () => {
    const s = combineSchedules([0.25, 0.75], [schedLin(0, 1), schedLin(10, 20)]);
    expect(s(0)).toBe(0);
    expect(s(0.125)).toBeCloseTo(0.5);
    expect(s(0.25)).toBeCloseTo(10);
    expect(s(0.625)).toBeCloseTo(15);
    expect(s(1)).toBeCloseTo(20);
    expect(() => combineSchedules([0.5, 0.6], [schedLin(0, 1), schedLin(0, 1)])).toThrow(/sum to 1/);
  });

  test("one-cycle: fastai defaults (div 25, div_final 1e5, pct_start 0.25, moms .95/.85/.95)", () => {
    const lrMax = 3e-3;
    const { lr, mom } = oneCycleSchedules({ lrMax });
    expect(lr(0)).toBeCloseTo(lrMax / 25, 12);
    expect(lr(0.25)).toBeCloseTo(lrMax, 12);
    expect(lr(1)).toBeCloseTo(lrMax / 1e5, 12);
    expect(mom(0)).toBeCloseTo(0.95, 12);
    expect(mom(0.25)).toBeCloseTo(0.85, 12);
    expect(mom(1)).toBeCloseTo(0.95, 12);
    // The peak is at pct_start and nowhere higher; momentum is lowest there.
    const grid = Array.from({ length: 1001 }, (_, i) => i / 1000);
    const lrs = grid.map(lr);
    const peakAt = grid[lrs.indexOf(Math.max(...lrs))]!;
    expect(peakAt).toBeCloseTo(0.25, 3);
    expect(Math.min(...grid.map(mom))).toBeCloseTo(0.85, 9);
    // Monotone up during warm-up, down afterwards.
    for (let i = 1; i < grid.length; i++) {
      if (grid[i]! <= 0.25) expect(lrs[i]!).toBeGreaterThanOrEqual(lrs[i - 1]!);
      else expect(lrs[i]!).toBeLessThanOrEqual(lrs[i - 1]!);
    }
  });

  test("custom one-cycle parameters", () => {
    const { lr } = oneCycleSchedules({ lrMax: 1, div: 10, divFinal: 100, pctStart: 0.5 });
    expect(lr(0)).toBeCloseTo(0.1);
    expect(lr(0.5)).toBeCloseTo(1);
    expect(lr(1)).toBeCloseTo(0.01);
  });
});
