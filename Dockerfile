FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1
COPY pyproject.toml README.md ./
COPY router ./router
COPY askaround ./askaround
COPY bots ./bots
COPY models ./models
ENV ASKAROUND_MODELS_DIR=/app/models
# torch is pinned to 2.13.0 in pyproject; pass a CPU wheel index as PIP_EXTRA_INDEX_URL at build
# time to keep the image free of CUDA.
ARG PIP_EXTRA_INDEX_URL=""
RUN pip install .
EXPOSE 8000
CMD ["askaround", "serve", "--host", "0.0.0.0", "--port", "8000"]
