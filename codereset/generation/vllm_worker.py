"""Methods mixed into every vLLM worker (vLLM's `worker_extension_cls`), for in-place weight sync.

vLLM injects `WeightSyncExtension` into its worker class when the engine is started with
`worker_extension_cls="codereset.generation.vllm_worker.WeightSyncExtension"`; the trainer side
then calls `llm.collective_rpc("codereset_reload_weights", args=(path,))`.

Why not plain `reload_weights`: vLLM's in-place reload processes each layer that receives weights
from the checkpoint, but a layer whose weight is *tied* to another one (the output head sharing
the input embedding) receives none and keeps kernel state derived from the old weights. On the
CPU that state is real: the head's GEMM handler holds a prepacked copy of the weight, so without
a refresh the engine would keep scoring tokens with the old head. `codereset_reload_weights`
reloads, then re-runs the post-load processing of every embedding/head layer, which rebuilds that
state from the (shared, now updated) weight. On a GPU the refresh has nothing to rebuild.

This module is imported inside vLLM's worker processes; it imports vLLM only inside the method.
"""

from __future__ import annotations

QUALNAME = "codereset.generation.vllm_worker.WeightSyncExtension"


class WeightSyncExtension:
    """Worker mix-in: `codereset_reload_weights(path)` (see module docstring)."""

    def codereset_reload_weights(self, weights_path: str) -> int:
        """Reload the checkpoint in `weights_path` in place; returns how many embedding/head
        layers had their post-load processing re-run."""
        from vllm.model_executor.layers.vocab_parallel_embedding import UnquantizedEmbeddingMethod

        self.reload_weights(weights_path=weights_path, is_checkpoint_format=True)
        refreshed = 0
        for module in self.model_runner.get_model().modules():
            method = getattr(module, "quant_method", None)
            if isinstance(method, UnquantizedEmbeddingMethod) and module.weight.numel() > 0:
                method.process_weights_after_loading(module)
                refreshed += 1
        return refreshed
