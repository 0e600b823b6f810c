// What the TabSeparated and RowBinary encoders share: the schema types of a row's keys, and one
// compiled encoder per table and column set (the keys of a row, in their order).
import { TABLES, ColumnType } from '../../shared/schema';

/**
 * The schema types of `keys` as columns of `table`, or null when the table is unknown or a key is
 * not one of its columns. Keys that pass are schema names (letters, digits, _): safe in generated code.
 */
export function columnTypesOf(table: string, keys: string[]): ColumnType[] | null {
  const t = TABLES.find((x) => x.name === table);
  if (!t) {
    return null;
  }
  const types = new Map(t.columns.map((c) => [c.name, c.type]));
  const out: ColumnType[] = [];
  for (const k of keys) {
    const type = types.get(k);
    if (!type || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
      return null;
    }
    out.push(type);
  }
  return out;
}

/** Encoders built once per table and column set; null (cached too) where none can be built. */
export class EncodersByColumnSet<E> {
  private readonly cache = new Map<string, E | null>();

  constructor(private readonly build: (table: string, keys: string[], key: string) => E | null) {}

  /** The encoder for rows shaped like `row`. */
  forRow(table: string, row: object): E | null {
    const keys = Object.keys(row);
    const key = `${table}|${keys.join(',')}`;
    let enc = this.cache.get(key);
    if (enc === undefined) {
      enc = this.build(table, keys, key);
      this.cache.set(key, enc);
    }
    return enc;
  }
}
