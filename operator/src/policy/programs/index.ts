import type { ProgramSpec } from '../spec.ts';
import { docker, kubectl } from './containers.ts';
import { coreutils } from './coreutils.ts';
import { git } from './git.ts';
import { systemTools } from './system.ts';
import { textTools } from './text.ts';

/** Every program the classifier can prove read-only, by name. */
export const programs: Record<string, ProgramSpec> = {
  ...coreutils,
  ...textTools,
  ...systemTools,
  git,
  docker,
  kubectl,
};

/** Why some well-known programs are never auto, for clearer reasons. */
export const knownUnsafe: Record<string, string> = {
  ...Object.fromEntries(
    ['less', 'more', 'most', 'vi', 'vim', 'nvim', 'view', 'nano', 'emacs', 'man', 'pico', 'ed', 'ex'].map(
      (p) => [p, 'is a pager or editor that can spawn a shell'],
    ),
  ),
  ...Object.fromEntries(
    [
      'awk',
      'gawk',
      'mawk',
      'perl',
      'python',
      'python3',
      'ruby',
      'node',
      'php',
      'lua',
      'bash',
      'sh',
      'zsh',
      'dash',
      'ksh',
    ].map((p) => [p, 'is an interpreter that runs arbitrary code']),
  ),
  ...Object.fromEntries(
    [
      'tee',
      'cp',
      'mv',
      'rm',
      'chmod',
      'chown',
      'chgrp',
      'ln',
      'touch',
      'mkdir',
      'rmdir',
      'truncate',
      'install',
      'shred',
    ].map((p) => [p, 'writes files']),
  ),
  ...Object.fromEntries(
    ['curl', 'wget', 'scp', 'rsync', 'ssh', 'nc', 'ncat', 'socat'].map((p) => [
      p,
      'uses the network and can write files',
    ]),
  ),
};
