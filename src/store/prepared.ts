import type { Compilable, CompiledQuery, Kysely } from 'kysely';

/** Stands for a prepared query's argument while it is built. */
class Arg {
  constructor(readonly index: number) {}
}

interface Compiled<O> {
  query: CompiledQuery<O>;
  /** Each parameter of the SQL: an argument's index, or a value the query itself holds. */
  slots: (Arg | { value: unknown })[];
}

function compiled<O>(query: CompiledQuery<O>, args: number): Compiled<O> {
  const slots = query.parameters.map((p) => (p instanceof Arg ? p : { value: p }));
  const bound = new Set(slots.flatMap((s) => (s instanceof Arg ? [s.index] : [])));
  if (bound.size !== args) throw new Error(`a prepared query binds ${bound.size} of its ${args} arguments: ${query.sql}`);
  return { query, slots };
}

async function run<O>(db: Kysely<any>, { query, slots }: Compiled<O>, args: unknown[]): Promise<O[]> {
  const parameters = slots.map((s) => (s instanceof Arg ? args[s.index] : s.value));
  return (await db.executeQuery<O>({ ...query, parameters })).rows;
}

/**
 * A query built and compiled once, on first use, then run with each call's
 * values: building and compiling a Kysely query costs more than running most
 * of the store's queries on SQLite, and the queries every turn runs keep one
 * shape. `build` gets a stand-in for each of its parameters and must bind
 * each as one value, as it is: not as a list, not transformed, and not as
 * something the query's shape depends on (a stand-in that does not reach the
 * SQL is an error).
 */
export function prepared<A extends unknown[], O>(build: (...args: A) => Compilable<O>): (db: Kysely<any>, ...args: A) => Promise<O[]> {
  let query: Compiled<O> | undefined;
  const standIns = Array.from({ length: build.length }, (_, i) => new Arg(i)) as A;
  return async (db, ...args) => run(db, (query ??= compiled(build(...standIns).compile(), build.length)), args);
}

/** Row counts up to this are prepared; a larger batch (rare: a transcript rewritten whole) is built per call. */
const PREPARED_ROWS = 32;

/**
 * A multi-row insert of `columns`, prepared (as `prepared` is) once per row
 * count up to PREPARED_ROWS. `build` gets the rows to insert, stand-ins when
 * preparing, and must insert them as they are.
 */
export function preparedInsert<R extends Record<string, unknown>, O>(
  columns: readonly (keyof R & string)[],
  build: (rows: R[]) => Compilable<O>,
): (db: Kysely<any>, rows: R[]) => Promise<O[]> {
  const byCount = new Map<number, Compiled<O>>();
  return async (db, rows) => {
    if (rows.length > PREPARED_ROWS) return (await db.executeQuery(build(rows).compile())).rows;
    let query = byCount.get(rows.length);
    if (!query) {
      const standIns = rows.map((_, r) => Object.fromEntries(columns.map((c, i) => [c, new Arg(r * columns.length + i)])) as R);
      query = compiled(build(standIns).compile(), rows.length * columns.length);
      byCount.set(rows.length, query);
    }
    return run(db, query, rows.flatMap((row) => columns.map((c) => row[c])));
  };
}
