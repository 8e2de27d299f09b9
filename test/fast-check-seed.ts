import fc from 'fast-check';

/**
 * Property tests draw a new random seed on every run (so local runs keep exploring), except where APR_FC_SEED is
 * set, or under CI (CI=true; seed 20261207 unless APR_FC_SEED says otherwise): there every property replays
 * the same cases, so CI's verdict on a commit is reproducible and a failure it reports replays locally with
 * `CI=true npx vitest run <file>`. A property test that passes its own explicit `seed` keeps it.
 */
const raw = process.env['APR_FC_SEED'] ?? (process.env['CI'] === 'true' ? '20261207' : undefined);
if (raw !== undefined) {
  const seed = Number(raw);
  if (!Number.isInteger(seed)) throw new Error(`APR_FC_SEED: '${raw}' is not an integer`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
