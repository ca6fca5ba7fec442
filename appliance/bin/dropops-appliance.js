#!/usr/bin/env node
import { launch } from '@dropops/protocol/launch';
await launch(new URL('../src/cli.ts', import.meta.url));
