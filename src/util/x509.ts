/**
 * The one door to `@peculiar/x509`. It loads tsyringe, which needs a Reflect metadata polyfill
 * before it is evaluated; importing the polyfill here, and the library only through this file,
 * meets that need where the library is used instead of in every entry point. The verify path does
 * not use this file (its certificate parser is `attestation/x509.ts`).
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
