"""Operations shared by the single-object trackers and their trainers (numpy / OpenCV only):
crops (:mod:`.crops`), correlation-filter maths (:mod:`.dcf`), hand-crafted features
(:mod:`.features`), DSST's scale filter (:mod:`.dsst`) and candidate-box samples
(:mod:`.samples`).
"""
