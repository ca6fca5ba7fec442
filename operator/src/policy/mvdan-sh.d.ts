// Only the parts of the GopherJS build of mvdan/sh that the classifier reads.
declare module 'mvdan-sh' {
  export interface ShNode {
    [field: string]: unknown;
  }
  interface Parser {
    Parse(src: string, name: string): ShNode;
  }
  interface Syntax {
    NewParser(...options: unknown[]): Parser;
    Walk(node: ShNode, visit: (node: ShNode | null) => boolean): void;
    NodeType(node: ShNode): string;
  }
  const sh: { syntax: Syntax };
  export default sh;
}
