"""Text processing: cleaning, tokenisation and vocabularies."""

from textseq.text.cleaning import TextCleaner
from textseq.text.tokenizers import Tokenizer, create_tokenizer, load_tokenizer
from textseq.text.vocab import EOS, PAD, SOS, UNK, Vocabulary

__all__ = [
    "EOS",
    "PAD",
    "SOS",
    "UNK",
    "TextCleaner",
    "Tokenizer",
    "Vocabulary",
    "create_tokenizer",
    "load_tokenizer",
]
