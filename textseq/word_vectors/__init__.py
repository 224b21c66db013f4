"""Word vectors as a part of textseq of their own (`textseq vectors ...`): train them with
gensim on corpora read and tokenised the way textseq's models read text (`training`), score
them on the standard analogy and similarity sets (`evaluation`), and explore any vectors file
or any model directory's embedding table (`space`: neighbours, analogies, 2-D maps).

    textseq vectors train imdb --method skipgram --dim 100 --out runs/imdb_sg100
    textseq vectors evaluate runs/imdb_sg100
    textseq vectors analogy runs/imdb_sg100 king man woman

The verbs themselves are in `commands`; docs/vectors.md describes them.
"""
