"""The plain-PyTorch MiniLM encoder must compute what transformers' BertModel computes."""

import torch

from redline.models.encoder import MiniLMEncoder, WordPieceTokenizer, base_encoder_path, base_word_embeddings

TEXTS = [
    "The terrorist Assad regime, Iran's psychopathic platform: his fate is unknown!",
    "Gen. Pourdastan announced that the Quds Force would deploy to Aleppo.",
    "Short.",
]


def test_hidden_states_equal_transformers_bert():
    from transformers import AutoModel

    ours = MiniLMEncoder.from_folder()
    ref = AutoModel.from_pretrained(str(base_encoder_path())).eval()
    ids, mask, _ = WordPieceTokenizer().batch(TEXTS, 64)
    with torch.inference_mode():
        a = ours(ids, mask, output_hidden_states=True)
        b = ref(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    keep = mask.bool()
    assert len(a.hidden_states) == len(b.hidden_states) == 7
    for x, y in zip(a.hidden_states, b.hidden_states):
        assert (x - y)[keep].abs().max() < 1e-4
    assert (a.last_hidden_state - b.last_hidden_state)[keep].abs().max() < 1e-4


def test_tokenizer_matches_transformers_and_offsets_slice_text():
    from transformers import AutoTokenizer

    ref = AutoTokenizer.from_pretrained(str(base_encoder_path()))
    tok = WordPieceTokenizer()
    for text in TEXTS + ["Ünïcode — “quotes” and\nnew lines " * 20]:
        ids, offsets = tok.pieces(text)
        enc = ref(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        assert ids == enc["input_ids"]
        assert offsets == [tuple(o) for o in enc["offset_mapping"]]
        assert len(ids) > 128 or text in TEXTS  # no truncation at the file's 128 pieces
    ids, mask, offsets = tok.batch(TEXTS, 8)
    assert ids.shape == (3, 8) and ids[0, 0] == tok.cls_token_id and ids[0, 7] == tok.sep_token_id
    assert mask[2].sum() == 4  # [CLS] short . [SEP]
    s, e = offsets[1, 1].tolist()
    assert TEXTS[1][s:e] == "Gen"  # offsets point into the original, not the lower-cased, text


def test_word_embeddings_come_from_the_base_package():
    emb = base_word_embeddings()
    assert emb.shape == (30522, 384) and emb.dtype == torch.float32
    assert torch.equal(emb, MiniLMEncoder.from_folder().embeddings.word_embeddings.weight.detach())
