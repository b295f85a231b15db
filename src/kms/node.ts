/** Node-only half of the KMS module: the AWS SDK calls the host makes (the worker never loads them). */
export * from './aws.js';
