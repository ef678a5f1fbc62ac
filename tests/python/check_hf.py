"""Hugging Face parity of an exported GPT (trainer/scripts/export_hf.py):
transformers.GPT2LMHeadModel.from_pretrained(HF_DIR) must load it with no
missing, unexpected or mis-shaped tensor, tie lm_head to wte as the config
says, and give logits within 1e-4 (the largest difference) of accel-train's
own on the validation windows its --predict wrote (PREDICT.h5). Greedy
generate() from PROMPT must give the bytes accel-train's --generate
--temperature 0 gave (GENERATED), but where the two likeliest bytes are
within 1e-4 (a near tie, which rounding may break either way: then the
rest is not compared); sampled generate() and generate() with no input
(from bos_token_id) must run. Where HF_DIR holds a tokenizer (a checkpoint
of a run with data.tokenizer), AutoTokenizer.from_pretrained(HF_DIR)
encodes PROMPT and decodes greedy generate()'s ids, which stop at the end
token as --generate does: the text must be --generate's (its bytes read as
UTF-8 with U+FFFD for what is not, as the tokenizer's decode reads them). Last, export_hf's own safetensors writer
must give the file the safetensors package wrote, byte for byte.

usage: check_hf.py HF_DIR PREDICT.h5 tied|untied PROMPT GENERATED SRC_DIR [TOKENS]
(TOKENS: --generate's --tokens, where HF_DIR holds a tokenizer)"""
import json
import os
import sys
import tempfile

import h5py
import numpy as np
import safetensors.numpy
import torch
import transformers

sys.path.insert(0, os.path.join(sys.argv[6], "trainer", "scripts"))
import export_hf  # noqa: E402


def load(hf_dir, tie):
    model, info = transformers.GPT2LMHeadModel.from_pretrained(hf_dir, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        sys.exit(f"from_pretrained: {bad}")
    model.eval()
    tied = model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    if tied != (tie == "tied") or model.config.tie_word_embeddings != (tie == "tied"):
        sys.exit(f"lm_head is {'' if tied else 'not '}tied to wte, config "
                 f"tie_word_embeddings {model.config.tie_word_embeddings}; expected {tie}")
    return model


def check_logits(model, predict):
    with h5py.File(predict, "r") as f:
        theirs, inputs = f["logits"][()], f["inputs"][()]
    with torch.no_grad():
        ours = torch.cat([model(torch.from_numpy(x).long()).logits
                          for x in np.array_split(inputs, max(1, len(inputs) // 16))]).numpy()
    if ours.shape != theirs.shape:
        sys.exit(f"logits of shape {theirs.shape}, transformers' {ours.shape}")
    diff = np.abs(ours - theirs).max()
    print(f"hf parity: logits of {len(inputs)} windows of {inputs.shape[1]} tokens "
          f"({theirs.size} values, |logit| up to {np.abs(theirs).max():.3f}) within {diff:.2e} "
          f"of transformers'")
    if not np.abs(theirs).max() > 1e-2:
        sys.exit("the logits are all near zero: nothing compared")
    if not diff <= 1e-4:
        sys.exit("the logits differ")


def check_generate(model, prompt, generated):
    want = list(open(generated, "rb").read().rstrip(b"\n"))
    ids = torch.tensor([list(prompt.encode())])
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=len(want), do_sample=False,
                             output_scores=True, return_dict_in_generate=True)
    got = out.sequences[0, ids.shape[1]:].tolist()
    for k, (a, b) in enumerate(zip(got, want)):
        if a != b:
            top = torch.topk(out.scores[k][0], 2).values
            if top[0] - top[1] > 1e-4:
                sys.exit(f"greedy generate(): byte {k} is {a}, accel-train's {b} "
                         f"(the two likeliest {top[0] - top[1]:.2e} apart)")
            print(f"hf generate: a near tie at byte {k}: compared up to it")
            break
    else:
        if len(got) != len(want):
            sys.exit(f"greedy generate() gave {len(got)} bytes, accel-train {len(want)}")
    print(f"hf generate: greedy from {prompt!r} gives accel-train's {len(want)} bytes: "
          f"{bytes(got)!r}")
    torch.manual_seed(1)
    with torch.no_grad():
        sampled = model.generate(ids, max_new_tokens=8, do_sample=True, top_k=40)
        empty = model.generate(max_new_tokens=4, do_sample=False)
    if sampled.shape != (1, ids.shape[1] + 8) or empty.shape != (1, 5) or \
            empty[0, 0] != export_hf.BYTE_BOS:
        sys.exit(f"generate(): shapes {tuple(sampled.shape)} and {tuple(empty.shape)}")
    print(f"hf generate: sampled {bytes(sampled[0].tolist())!r}, from bos "
          f"{bytes(empty[0].tolist())!r}")


def check_writer(hf_dir):
    """export_hf.write_safetensors and the safetensors package, given the
    exported tensors, write the exported file again, byte for byte."""
    path = os.path.join(hf_dir, "model.safetensors")
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        metadata = json.loads(f.read(n))["__metadata__"]
    tensors = safetensors.numpy.load_file(path)
    with tempfile.TemporaryDirectory() as tmp:
        mine, theirs = os.path.join(tmp, "mine"), os.path.join(tmp, "theirs")
        export_hf.write_safetensors(tensors, mine, metadata)
        safetensors.numpy.save_file(tensors, theirs, metadata)
        files = [open(p, "rb").read() for p in (path, mine, theirs)]
    if files[1] != files[2]:
        sys.exit("export_hf.write_safetensors's file is not the safetensors package's")
    if files[0] != files[1]:
        sys.exit("the exported model.safetensors is not what either writer makes of its tensors")
    print(f"hf safetensors: export_hf's own writer and the safetensors package write the same "
          f"{len(files[0])} bytes, the exported file's")


def check_generate_text(model, hf_dir, prompt, generated):
    """Greedy generate() through AutoTokenizer gives --generate's text."""
    tok = transformers.AutoTokenizer.from_pretrained(hf_dir)
    want = open(generated, "rb").read()[:-1].decode("utf-8", errors="replace")
    enc = tok(prompt, return_tensors="pt")
    ids = enc.input_ids
    n = int(sys.argv[7])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=enc.attention_mask, max_new_tokens=n,
                             do_sample=False, output_scores=True,
                             return_dict_in_generate=True, pad_token_id=tok.eos_token_id)
    got_ids = out.sequences[0, ids.shape[1]:].tolist()
    if got_ids and got_ids[-1] == tok.eos_token_id:  # --generate prints no end token
        got_ids = got_ids[:-1]
    got = tok.decode(got_ids)
    if got != want:
        # a near tie, which rounding may break either way, excuses a
        # difference (the ids --generate drew are not at hand to say where)
        gaps = [float(t[0] - t[1]) for t in (torch.topk(s[0], 2).values for s in out.scores)]
        ties = [j for j, gap in enumerate(gaps) if gap <= 1e-4]
        if not ties:
            sys.exit(f"greedy generate() through AutoTokenizer: {got!r}, accel-train's {want!r}")
        print(f"hf generate: the texts differ after a near tie at token {ties[0]}")
    print(f"hf generate: AutoTokenizer and greedy generate() from {prompt!r} give accel-train's "
          f"{len(got_ids)} tokens of text: {got!r}")
    with torch.no_grad():
        empty = model.generate(max_new_tokens=4, do_sample=False, pad_token_id=tok.eos_token_id)
    if empty.shape[1] > 5 or empty[0, 0] != tok.bos_token_id:
        sys.exit(f"generate() from bos: {empty.tolist()}, bos {tok.bos_token_id}")
    print(f"hf generate: from bos {tok.decode(empty[0].tolist())!r}")


def main(hf_dir, predict, tie, prompt, generated):
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    model = load(hf_dir, tie)
    check_logits(model, predict)
    if os.path.exists(os.path.join(hf_dir, "tokenizer.json")):
        check_generate_text(model, hf_dir, prompt, generated)
    else:
        check_generate(model, prompt, generated)
    check_writer(hf_dir)


if __name__ == "__main__":
    if len(sys.argv) not in (7, 8):
        sys.exit(__doc__.split("usage: ")[1])
    main(*sys.argv[1:6])
