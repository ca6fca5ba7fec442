import sh, { type ShNode } from 'mvdan-sh';

export type { ShNode };

// One parser is reused: building one costs more than parsing a short command.
let parser: ReturnType<typeof sh.syntax.NewParser> | undefined;

/** Parses a bash command line; null when mvdan-sh rejects it. */
export function parseShell(command: string): ShNode | null {
  try {
    parser ??= sh.syntax.NewParser();
    return parser.Parse(command, 'command');
  } catch {
    return null;
  }
}

export const nodeType = (node: ShNode): string => sh.syntax.NodeType(node);

/** Visits every node below `root` (the parser's own walker, so no node kind is missed). */
export function walk(root: ShNode, visit: (node: ShNode) => void): void {
  sh.syntax.Walk(root, (node) => {
    if (node) visit(node);
    return true;
  });
}

export const list = (value: unknown): ShNode[] => (Array.isArray(value) ? (value as ShNode[]) : []);

// Redirection operators as numbered by mvdan/sh v3 (checked against the installed build).
export const Redir = {
  Out: 54,
  Append: 55,
  In: 56,
  InOut: 57,
  DupIn: 58,
  DupOut: 59,
  Clobber: 60,
  Heredoc: 61,
  DashHeredoc: 62,
  HereString: 63,
  All: 64,
  AppendAll: 65,
} as const;
