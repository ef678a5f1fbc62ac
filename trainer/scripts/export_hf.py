"""Exports an accel-train GPT checkpoint as a Hugging Face transformers model.

    python3 export_hf.py CHECKPOINT.h5 OUT_DIR

writes OUT_DIR/config.json and OUT_DIR/model.safetensors, which
transformers.GPT2LMHeadModel.from_pretrained(OUT_DIR) loads with no missing
or unexpected tensor; and where the checkpoint carries a tokenizer (a run
with data.tokenizer), its tokenizer.json verbatim, with the
tokenizer_config.json and special_tokens_map.json that
transformers.AutoTokenizer.from_pretrained(OUT_DIR) reads (a
PreTrainedTokenizerFast: no token added in front, no clean-up of spaces
in decoding, model_max_length the model's positions; bos and eos its
<|endoftext|> where it has one). Needs only numpy and h5py: the safetensors file is
written by the safetensors package where it is installed, else directly
(write_safetensors). OUT_DIR must not exist or be an empty directory (not
the checkpoint, through any spelling or link: refused in one line before
anything is read); the files are written into a temporary directory beside
it, which is then renamed, so a failed export leaves nothing behind.

The model is mapped by its structure, not by its layer names. It must be a
GPT-2 stack: an embedding (wte + wpe), then blocks of layernorm, attention,
residual (to the block's input), layernorm, dense with gelu_tanh, dense
back to C, residual (to the first one), then a final layernorm and a dense
layer of `vocab` units without bias or activation, tied to wte or not.
Dropout layers may follow the embedding, the attention and the MLP, where
GPT-2 has them. Anything else is refused in one line (exit 1).

What the config says:
- activation_function "gelu_new", GPT-2's tanh GELU, the same formula as
  accel-train's gelu_tanh (kernels/math.h);
- embd_pdrop, attn_pdrop (the attention layer's own dropout, on its
  weights), resid_pdrop (the dropout layers after the attention and the
  MLP; GPT-2 has one rate for both: where they differ, the largest, with a
  note): 0 where there is no dropout;
- tie_word_embeddings true when the checkpoint stores the output layer's
  weight only as wte (embedding tie = true); otherwise lm_head.weight is
  written and it is false;
- for a byte-level vocabulary (256), bos_token_id 10, the newline, which
  accel-train's --generate starts from when given no prompt (so generate()
  with no input starts there too), and eos_token_id and pad_token_id null:
  the vocabulary is the 256 byte values, each of them text, none reserved
  to end a sequence, and accel-train's own generation runs to the length
  it is given, as generate() then does (max_new_tokens). For GPT-2's
  vocabulary (50,257: configs/gpt2_124m.ini) bos and eos are GPT-2's
  <|endoftext|>, 50256; for any other, null. With a tokenizer, bos and
  eos are its <|endoftext|>'s id, which --generate starts from with no
  prompt and stops at, as generate() then does (null where it has none).

HF's GPT-2 holds its projections as Conv1D, weight (in, out): accel-train's
nn.Linear weights (out, in) are transposed. The attention's causal-mask
buffer (attn.bias) is not written: transformers 4.x makes it at load
(older versions list it as a key they may miss)."""
import json
import os
import shutil
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accel_ckpt  # noqa: E402
import accel_outpath  # noqa: E402

BYTE_BOS = 10  # a byte-level vocabulary's bos_token_id: the newline
GPT2_EOT = 50256  # <|endoftext|> in GPT-2's vocabulary of 50,257
EOT = "<|endoftext|>"


def _special_tokens(vocab):
    """(bos_token_id, eos_token_id) for a vocabulary of that size."""
    if vocab == 256:
        return BYTE_BOS, None
    if vocab == GPT2_EOT + 1:
        return GPT2_EOT, GPT2_EOT
    return None, None


class Refused(Exception):
    """A checkpoint or output directory this export cannot take, in one line."""


class _Walk:
    """The layer list, taken in order against GPT-2's shape."""

    def __init__(self, layers, weights):
        self.layers, self.weights, self.i = layers, weights, 0

    def peek(self):
        return self.layers[self.i] if self.i < len(self.layers) else None

    def take(self, kind, role):
        """The next layer, which must be a `kind`; returns (index, layer, tensors)."""
        l = self.peek()
        if l is None:
            raise Refused(f"the model ends where GPT-2 has {role} ({kind})")
        if l["type"] != kind:
            raise Refused(f"{self.where(self.i)}, {l['type']}, is where GPT-2 has {role} "
                          f"({kind})")
        self.i += 1
        return self.i - 1, l, self.weights.get(l["name"], {})

    def dropout(self):
        """The rate of a dropout layer next, if one is; None otherwise."""
        l = self.peek()
        if l is None or l["type"] != "dropout":
            return None
        self.i += 1
        return float(l["rate"])

    def where(self, i):
        return f"layer {i} ({self.layers[i]['name']})"

    def residual(self, role, source):
        """A residual that adds the output of layer `source`, without activation."""
        i, l, _ = self.take("residual", role)
        if i + int(l["from"]) != source:
            raise Refused(f"{self.where(i)} adds the output of layer {i + int(l['from'])}, where "
                          f"GPT-2's {role} adds layer {source}'s")
        if l.get("activation", "none") != "none":
            raise Refused(f"{self.where(i)} has activation {l['activation']}: GPT-2's {role} has "
                          f"none")
        return i

    def dense(self, role, activation):
        """A dense layer of that activation; returns (weight, bias), bias zero when it has none
        (HF's Conv1D always has one)."""
        i, l, w = self.take("dense", role)
        if l.get("activation", "none") != activation:
            raise Refused(f"{self.where(i)} has activation {l.get('activation', 'none')} where "
                          f"GPT-2's {role} has {activation}")
        weight = _tensor(w, "weight", l)
        return weight, w.get("bias", np.zeros(weight.shape[0], np.float32))


def _tensor(w, key, l):
    if key not in w:
        raise Refused(f"the checkpoint has no {l['name']}/{key}")
    return w[key]


def _layernorm(walk, role, seen):
    """A layernorm of the model's one eps (the first one's, in `seen`);
    returns (weight, bias)."""
    i, l, w = walk.take("layernorm", role)
    if seen.setdefault("eps", float(l["eps"])) != float(l["eps"]):
        raise Refused(f"{walk.where(i)} has eps {float(l['eps'])}, the first layernorm "
                      f"{seen['eps']}: GPT-2's config has one layer_norm_epsilon")
    return _tensor(w, "weight", l), _tensor(w, "bias", l)


def _conv1d(weight):
    """An nn.Linear weight (out, in) as HF's Conv1D holds it, (in, out)."""
    return np.ascontiguousarray(weight.T)


def _block(walk, n, c, seen):
    """One pre-LN block, h.n; its tensors under HF's names. `seen` holds the
    layernorms' eps, the heads, the MLP's width and the dropouts, which must
    agree across blocks."""
    start = walk.i - 1  # the layer whose output the block reads
    t, p = {}, f"transformer.h.{n}."
    t[p + "ln_1.weight"], t[p + "ln_1.bias"] = _layernorm(walk, "the block's ln_1", seen)
    i, l, w = walk.take("attention", "the block's attention")
    for key, value in (("n_head", int(l["heads"])), ("attn_pdrop", float(l.get("dropout", 0)))):
        if seen.setdefault(key, value) != value:
            raise Refused(f"{walk.where(i)} has {key} {value}, block 0 {seen[key]}: GPT-2's "
                          f"config has one")
    t[p + "attn.c_attn.weight"] = _conv1d(_tensor(w, "c_attn.weight", l))
    t[p + "attn.c_attn.bias"] = _tensor(w, "c_attn.bias", l)
    t[p + "attn.c_proj.weight"] = _conv1d(_tensor(w, "c_proj.weight", l))
    t[p + "attn.c_proj.bias"] = _tensor(w, "c_proj.bias", l)
    seen["resid"].append(walk.dropout())
    first = walk.residual("residual after the attention", start)
    t[p + "ln_2.weight"], t[p + "ln_2.bias"] = _layernorm(walk, "the block's ln_2", seen)
    fc_w, t[p + "mlp.c_fc.bias"] = walk.dense("MLP's c_fc", "gelu_tanh")
    if seen.setdefault("n_inner", fc_w.shape[0]) != fc_w.shape[0]:
        raise Refused(f"{walk.where(walk.i - 1)} has {fc_w.shape[0]} units, block 0's c_fc "
                      f"{seen['n_inner']}: GPT-2's config has one n_inner")
    proj_w, t[p + "mlp.c_proj.bias"] = walk.dense("MLP's c_proj", "none")
    if proj_w.shape[0] != c:
        raise Refused(f"{walk.where(walk.i - 1)} has {proj_w.shape[0]} units where GPT-2's "
                      f"MLP c_proj gives the block's {c} features")
    t[p + "mlp.c_fc.weight"], t[p + "mlp.c_proj.weight"] = _conv1d(fc_w), _conv1d(proj_w)
    seen["resid"].append(walk.dropout())
    walk.residual("residual after the MLP", first)
    return t


def convert(layers, weights):
    """(tensors, config): the model's tensors under GPT2LMHeadModel's names
    (float32, C order) and its config.json as a dict; Refused when the
    model is not a GPT-2 stack."""
    walk = _Walk(layers, weights)
    _, l, w = walk.take("embedding", "its token and position embeddings")
    wte, wpe = _tensor(w, "wte", l), _tensor(w, "wpe", l)
    vocab, c = wte.shape
    tensors = {"transformer.wte.weight": wte, "transformer.wpe.weight": wpe}
    embd_pdrop = walk.dropout() or 0.0
    seen, n = {"resid": []}, 0
    while walk.i + 1 < len(layers) and layers[walk.i + 1]["type"] == "attention":
        tensors.update(_block(walk, n, c, seen))
        n += 1
    if n == 0:
        raise Refused("no transformer block (layernorm, attention, ...) after the embedding")
    tensors["transformer.ln_f.weight"], tensors["transformer.ln_f.bias"] = \
        _layernorm(walk, "its final layernorm, ln_f", seen)
    i, l, w = walk.take("dense", "its output layer, lm_head")
    if l.get("activation", "none") != "none" or "bias" in w:
        raise Refused(f"{walk.where(i)}, the output layer, has a bias or an activation: GPT-2's "
                      f"lm_head has neither")
    if int(l["units"]) != vocab:
        raise Refused(f"{walk.where(i)}, the output layer, has {l['units']} units for a "
                      f"vocabulary of {vocab}")
    tied = "weight" not in w
    if not tied:
        tensors["lm_head.weight"] = w["weight"]
    if walk.peek() is not None:
        raise Refused(f"{walk.where(walk.i)} follows the output layer")
    resid = [r for r in seen["resid"] if r is not None]
    if len(set(resid)) > 1:
        print(f"export_hf: note: the residual branches' dropout rates differ "
              f"({sorted(set(resid))}); GPT-2 has one: resid_pdrop = {max(resid)}",
              file=sys.stderr)
    bos, eos = _special_tokens(int(vocab))
    config = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": int(vocab),
        "n_positions": int(wpe.shape[0]),
        "n_embd": int(c),
        "n_layer": n,
        "n_head": seen["n_head"],
        "n_inner": int(seen["n_inner"]),
        "activation_function": "gelu_new",
        "layer_norm_epsilon": seen["eps"],
        "embd_pdrop": embd_pdrop,
        "attn_pdrop": seen["attn_pdrop"],
        "resid_pdrop": max(resid, default=0.0),
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": tied,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": None,
        "use_cache": True,
        "torch_dtype": "float32",
    }
    tensors = {k: np.ascontiguousarray(v, dtype="<f4") for k, v in tensors.items()}
    return tensors, config


_DTYPES = {np.dtype("<f4"): "F32"}


def write_safetensors(tensors, path, metadata=None):
    """The safetensors format, written directly: the header's length (8
    bytes, little-endian), the header (JSON: each tensor's dtype, shape and
    data_offsets within the data, and __metadata__, strings), padded with
    spaces to a multiple of 8, then the tensors' bytes, little-endian, in
    name order, as the safetensors package lays them."""
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    names = sorted(tensors)
    for name in names:
        a = tensors[name]
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in names:
            f.write(np.ascontiguousarray(tensors[name]).tobytes())


def save_safetensors(tensors, path):
    """Writes the file with the safetensors package if it is installed, else
    write_safetensors; returns which. transformers wants format = pt."""
    metadata = {"format": "pt"}
    try:
        from safetensors.numpy import save_file
    except ImportError:
        write_safetensors(tensors, path, metadata)
        return "written directly (no safetensors package)"
    save_file(tensors, path, metadata=metadata)
    return "written by the safetensors package"


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tokenizer_files(json_bytes, config):
    """{name: bytes} of the files AutoTokenizer reads beside the model, for
    the tokenizer.json the checkpoint carries; sets config's bos and eos to
    its <|endoftext|>. Refused where the file is not a tokenizer.json."""
    try:
        tok = json.loads(json_bytes)
        added = {t["content"]: t["id"] for t in tok.get("added_tokens") or []}
        ids = list(tok["model"]["vocab"].values()) + list(added.values())
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise Refused(f"the checkpoint's /tokenizer is not a tokenizer.json ({e})") from None
    if max(ids, default=-1) >= config["vocab_size"]:
        raise Refused(f"the checkpoint's tokenizer has ids up to {max(ids)}, past the model's "
                      f"vocabulary of {config['vocab_size']}")
    eot = added.get(EOT)
    config["bos_token_id"] = config["eos_token_id"] = eot
    special = {"bos_token": EOT, "eos_token": EOT} if eot is not None else {}
    tok_config = {"tokenizer_class": "PreTrainedTokenizerFast",
                  "model_max_length": config["n_positions"],
                  "add_bos_token": False, "add_eos_token": False,
                  "clean_up_tokenization_spaces": False, **special}
    dump = lambda d: (json.dumps(d, indent=2) + "\n").encode()  # noqa: E731
    return {"tokenizer.json": json_bytes, "tokenizer_config.json": dump(tok_config),
            "special_tokens_map.json": dump(special)}


def export(tensors, config, out_dir, extra=None):
    """Writes config.json and model.safetensors (and extra's {name: bytes})
    into a temporary directory beside out_dir and renames it to out_dir,
    which must not exist or be empty; returns save_safetensors's answer."""
    out_dir = os.path.abspath(out_dir)
    if os.path.lexists(out_dir) and not (os.path.isdir(out_dir) and not os.listdir(out_dir)):
        raise Refused(f"{out_dir} exists and is not an empty directory")
    parent = os.path.dirname(out_dir)
    try:
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.tmp-", dir=parent)
    except OSError as e:
        raise Refused(f"cannot make a directory in {parent}: {e.strerror}") from None
    try:
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        how = save_safetensors(tensors, os.path.join(tmp, "model.safetensors"))
        for name, data in (extra or {}).items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
        for name in ("config.json", "model.safetensors", *(extra or {})):
            _fsync(os.path.join(tmp, name))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's is 0700
        os.rename(tmp, out_dir)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):
            raise Refused(f"writing {out_dir}: {e.strerror or e}") from None
        raise
    _fsync(parent)
    return how


def main(argv):
    if len(argv) != 3:
        print("usage: export_hf.py CHECKPOINT.h5 OUT_DIR", file=sys.stderr)
        return 2
    ckpt, out_dir = argv[1:]
    try:
        try:  # before any work: the checkpoint, a file, anything but a directory
            accel_outpath.check_dir(out_dir, [(ckpt, f"the checkpoint this export reads ({ckpt})")])
        except accel_outpath.Refused as e:
            raise Refused(str(e)) from None
        try:
            _, layers, weights = accel_ckpt.read(ckpt)
            tok_json = accel_ckpt.read_tokenizer(ckpt)
        except (OSError, KeyError) as e:
            raise Refused(f"cannot read the checkpoint: {e}") from None
        try:
            tensors, config = convert(layers, weights)
        except Refused as e:
            raise Refused(f"{ckpt}: not a GPT-2-shaped model: {e}") from None
        try:
            extra = tokenizer_files(tok_json, config) if tok_json is not None else None
        except Refused as e:
            raise Refused(f"{ckpt}: {e}") from None
        how = export(tensors, config, out_dir, extra)
    except Refused as e:
        print(f"export_hf: error: {e}", file=sys.stderr)
        return 1
    count = sum(a.size for a in tensors.values())
    tail = "; tokenizer.json, the checkpoint's, for AutoTokenizer" if tok_json else ""
    print(f"export_hf: {out_dir}: GPT-2 of {config['n_layer']} blocks, {config['n_embd']} "
          f"features, {config['n_head']} heads, {config['n_positions']} positions, vocabulary "
          f"{config['vocab_size']}, {count:,} parameters, output layer "
          f"{'tied to wte' if config['tie_word_embeddings'] else 'untied'}; "
          f"model.safetensors {how}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
