# The dashboard as a container: `docker build -t bnn-demo . && docker run -p 8501:8501 bnn-demo`
# then open http://localhost:8501. See README, "Sharing a hosted demo".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # torch's own thread pools: the app asks for one thread per training (bnn.set_threads(1));
    # these keep OpenMP/MKL from starting one per core anyway
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1

WORKDIR /app

# The CPU build of torch first (PyPI's default Linux wheel carries CUDA, gigabytes we do not use);
# `torch==2.13.0` in requirements.txt is then already satisfied by 2.13.0+cpu.
COPY requirements.txt .
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install -r requirements.txt

COPY bnn ./bnn
COPY dashboard ./dashboard
COPY pages ./pages
COPY app.py ./
COPY .streamlit ./.streamlit
# The Plotly bundle the point editor loads from static/ (dashboard/editor.py), written now: the app
# user cannot write /app at run time (the editor would then ship the bundle over the websocket)
RUN python -c "from pathlib import Path; from dashboard.editor import write_bundle; write_bundle(Path('static'))"

RUN useradd --create-home --uid 1000 app
USER app

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4); sys.exit(0 if r.read() == b'ok' else 1)"]

CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
