// The language-model adapters behind one interface; see model.ts for the contract and tools.ts for
// what a model may ask for (and why nothing it says can approve or run anything by itself).
export type {
  ChatMessage,
  ChatModel,
  ChatRequest,
  DoneReason,
  ModelError,
  ModelErrorCode,
  ModelEvent,
  ModelInfo,
} from './model.ts';
export {
  parseToolCall,
  toolSpecs,
  TOOL_NAMES,
  type RawToolCall,
  type ToolCall,
  type ToolName,
  type ToolSpec,
} from './tools.ts';
export { OllamaChatModel, type OllamaSettings } from './ollama.ts';
export { GeminiChatModel, type GeminiSettings } from './gemini.ts';
export { NoChatModel, NO_MODEL_NOTICE } from './none.ts';
export { selectChatModel, probeOllama, OLLAMA_PROBE_TIMEOUT_MS, type LlmConfig } from './select.ts';
