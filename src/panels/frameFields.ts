import type { DataFrame, Field } from '@grafana/data';

/** Reading a frame's fields by name, as the FlowLens panels do (the backend's frames name every field). */

export function fieldOf(frame: DataFrame | undefined, name: string): Field | undefined {
  return frame?.fields.find((f) => f.name === name);
}

/** The text of a field's value ('' for none). */
export function str(f: Field | undefined, i: number): string {
  const v = f?.values[i];
  return v === undefined || v === null ? '' : String(v);
}

/** A field's value as a number (0 for none or not a number). */
export function num(f: Field | undefined, i: number): number {
  const v = Number(f?.values[i]);
  return Number.isFinite(v) ? v : 0;
}
