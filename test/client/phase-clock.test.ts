/** The client's phase clock: each progress event ends the phase before it; worker phases map to the client's names. */
import { PhaseClock, formatTimings } from '../../src/client/phase-clock.js';
import { PhaseTimer } from '../../src/worker/phase-timer.js';

test('events end the phases they follow, and the dependency transfer counts as transfer', () => {
  let t = 0;
  const clock = new PhaseClock(() => t);
  t = 1000;
  expect(
    clock.event({
      type: 'prepared',
      source: { repository: null, commit: null, tree: 'a', dirty: false },
      workdir: '.',
      language: 'node',
      dependencies: 0,
      inputBytes: 0,
    }),
  ).toEqual({ ended: 'preparing', ms: 1000 });
  t = 1500;
  clock.event({ type: 'enclave', state: 'running' });
  t = 2000;
  clock.event({ type: 'phase', phase: 'verifying-source' });
  t = 2200;
  clock.event({ type: 'phase', phase: 'receiving', detail: 'dependencies' });
  t = 2700;
  clock.event({ type: 'phase', phase: 'verifying-dependencies' });
  t = 3000;
  clock.event({ type: 'log', lines: ['x'] });
  clock.event({ type: 'phase', phase: 'building' });
  t = 9000;
  clock.event({ type: 'phase', phase: 'collecting-outputs' });
  t = 9100;
  clock.event({ type: 'result', bundleSize: 1, subjects: [] });
  t = 9400;
  const done = clock.finish();
  expect(done).toEqual({
    phases: {
      preparing: 1000,
      starting: 500,
      transfer: 1000,
      'verifying-source': 200,
      'verifying-dependencies': 300,
      building: 6000,
      hashing: 100,
      finishing: 300,
    },
    totalMs: 9400,
  });
  expect(formatTimings(done)).toMatch(/^preparing 1\.00 s, .*building 6\.00 s.*; total 9\.40 s$/);
});

test('the worker timer adds up repeated phases in the order they began', () => {
  let t = 0;
  const timer = new PhaseTimer('receiving', () => t);
  t = 10;
  timer.next('building');
  t = 50;
  timer.next('receiving');
  t = 55;
  expect(timer.done()).toEqual({ receiving: 15, building: 40 });
});
