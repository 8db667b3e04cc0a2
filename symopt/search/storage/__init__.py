"""What a search keeps: the run store (`run.sqlite`) and its schema, the equivalence cache
shared by runs, the run lock, and the outputs rewritten as it goes (`best.prog`,
`hall_of_fame.csv`)."""
