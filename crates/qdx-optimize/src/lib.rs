//! Experiment design and optimisation strategies for qdx (GP Bayesian optimisation, designs, local and evolutionary search, objectives).
