import type { ApplianceConfig } from '../config.ts';
import { ConfigError } from '../config.ts';
import { GeminiChatModel } from './gemini.ts';
import type { ChatModel } from './model.ts';
import { NoChatModel } from './none.ts';
import { clientFor, OllamaChatModel } from './ollama.ts';

export type LlmConfig = Pick<
  ApplianceConfig,
  'llm' | 'ollamaUrl' | 'ollamaModel' | 'geminiApiKey' | 'geminiModel' | 'llmIdleTimeoutMs'
>;

/** How long `auto` waits for Ollama at start before settling on no model. */
export const OLLAMA_PROBE_TIMEOUT_MS = 2_000;

/**
 * The model the configuration asks for. `auto` (the embedded default) asks Ollama for its models and uses
 * it when it answers, else runs without a model; the notice says which model is missing, if any.
 */
export async function selectChatModel(config: LlmConfig): Promise<ChatModel> {
  const ollama = (notice?: string) =>
    new OllamaChatModel({
      host: config.ollamaUrl,
      model: config.ollamaModel,
      idleTimeoutMs: config.llmIdleTimeoutMs,
      notice,
    });
  switch (config.llm) {
    case 'none':
      return new NoChatModel();
    case 'ollama':
      return ollama();
    case 'gemini':
      if (!config.geminiApiKey) {
        throw new ConfigError(
          'llm (DROPOPS_LLM) is gemini but geminiApiKey (DROPOPS_GEMINI_API_KEY) is not set',
        );
      }
      return new GeminiChatModel({
        apiKey: config.geminiApiKey,
        model: config.geminiModel,
        idleTimeoutMs: config.llmIdleTimeoutMs,
      });
    case 'auto': {
      const models = await probeOllama(config.ollamaUrl);
      if (!models) return new NoChatModel(`Ollama did not answer at ${config.ollamaUrl}.`);
      const pulled = models.some(
        (name) => name === config.ollamaModel || name === `${config.ollamaModel}:latest`,
      );
      return ollama(
        pulled
          ? undefined
          : `Ollama has no model ${config.ollamaModel}: run ollama pull ${config.ollamaModel}, or set DROPOPS_OLLAMA_MODEL.`,
      );
    }
  }
}

/** The names of the models Ollama holds (GET /api/tags), or undefined when it does not answer in time. */
export async function probeOllama(
  host: string,
  timeoutMs = OLLAMA_PROBE_TIMEOUT_MS,
): Promise<string[] | undefined> {
  try {
    const { models } = await clientFor(host, AbortSignal.timeout(timeoutMs)).list();
    return models.map((m) => m.name);
  } catch {
    return undefined;
  }
}
