// Writes adapters/postgres-schema.sql from adapters/postgres-schema.ts (a test checks they agree).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaFile } from '../adapters/postgres-schema';

writeFileSync(join(__dirname, '..', 'adapters', 'postgres-schema.sql'), schemaFile());
