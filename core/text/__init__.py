"""How text becomes ids and vectors: the tokenizer, its cache for texts on disk, word vectors and batches."""
