import type { ChatModel, ModelEvent, ModelInfo } from './model.ts';

export const NO_MODEL_NOTICE =
  'No language model is connected. Type commands yourself: they go through the same classification and ' +
  'approval as a model’s. Set DROPOPS_LLM=ollama or gemini to connect one.';

/** The appliance without a model: every turn says so plainly, and the user drives the hosts directly. */
export class NoChatModel implements ChatModel {
  readonly info: ModelInfo;

  constructor(reason?: string) {
    this.info = {
      provider: 'none',
      model: null,
      notice: reason ? `${reason} ${NO_MODEL_NOTICE}` : NO_MODEL_NOTICE,
    };
  }

  async *chat(): AsyncGenerator<ModelEvent> {
    yield { type: 'error', error: { code: 'NO_MODEL', message: this.info.notice! } };
  }
}
