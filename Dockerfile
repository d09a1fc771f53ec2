FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# The CPU build of torch only (no CUDA libraries): installed first from PyTorch's CPU index, so
# the pin in pyproject.toml is already satisfied when the project installs.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md ./
COPY router ./router
COPY askaround ./askaround
COPY bots ./bots
COPY models ./models
ENV ASKAROUND_MODELS_DIR=/app/models
RUN pip install . \
    # export the model to ONNX once, at build time, so no container pays for it at start-up
    && python -c "from router.search.onnx_encoder import OnnxEmbedder; from router.settings import Settings; from pathlib import Path; OnnxEmbedder(Settings().model_name, models_dir=Path('/app/models'))"
EXPOSE 8000
CMD ["askaround", "serve", "--host", "0.0.0.0", "--port", "8000"]
