// Test doubles for saving's tests: storage in memory, and a save function the test answers.

import type { Version } from "../api/canvases";
import type { Graph, GraphNode } from "../api/graph";
import type { SaveRequest } from "../api/canvases";

/** localStorage in memory; `full` makes every write fail as a full quota does. */
export class MemoryStorage implements Storage {
  private readonly items = new Map<string, string>();
  full = false;

  get length(): number {
    return this.items.size;
  }

  clear(): void {
    this.items.clear();
  }

  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }

  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }

  removeItem(key: string): void {
    this.items.delete(key);
  }

  setItem(key: string, value: string): void {
    if (this.full) throw new DOMException("quota", "QuotaExceededError");
    this.items.set(key, value);
  }
}

export function version(number: number, extra: Partial<Version> = {}): Version {
  return {
    canvas_id: "cv1",
    number,
    parent: number - 1,
    author_id: "u1",
    message: "",
    autosave: true,
    created_at: "2025-01-01T00:00:00Z",
    ...extra,
  };
}

export function shot(id: string, name: string, x = 0): GraphNode {
  return { id, type: "shot", position: { x, y: 0 }, properties: { name } };
}

export function graphOf(...nodes: GraphNode[]): Graph {
  return { nodes, edges: [] };
}

export interface PendingSave {
  request: SaveRequest;
  leaving: boolean;
  answer(version: Version): Promise<void>;
  fail(error: unknown): Promise<void>;
}

/** A save function whose calls wait until the test answers them. */
export function fakeSave() {
  const calls: PendingSave[] = [];
  const save = (request: SaveRequest, leaving: boolean) =>
    new Promise<Version>((resolve, reject) => {
      calls.push({
        request,
        leaving,
        // Resolving, then letting the machine's continuation run before the test goes on.
        answer: (answer) => {
          resolve(answer);
          return settled();
        },
        fail: (error) => {
          reject(error instanceof Error ? error : new Error(String(error)));
          return settled();
        },
      });
    });
  return { calls, save };
}

/** Lets every promise continuation queued so far run. */
export async function settled(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}
