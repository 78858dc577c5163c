/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  moduleNameMapper: { '^metalgrad$': '<rootDir>/lib/index.ts' },
  setupFiles: ['<rootDir>/test/setup-poisoned-outputs.ts'],
  testTimeout: 60000,
};
