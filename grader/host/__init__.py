"""Host tools: tiers from seeds (calibrate), skeletons from solutions (release), `grade init`
(learner_folder)."""
