// Types of stacks.js (plain JS, served to the browser as it is), for the tests that import it.
export interface Stack {
  ids: string[];
  x: number;
  y: number;
}
export const STACK_PX: number;
export function stackMarkers(points: { id: string; x: number; y: number }[], radius?: number): Stack[];
export function topOf(stack: Stack, first?: (string | null | undefined)[]): string;
export function nextInStack(ids: string[], selected: string | null | undefined): string | null;
