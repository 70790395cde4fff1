// VirNucPro-TS scatter/gather step for Nextflow (nf-core module layout). NOT RUN HERE: Nextflow could not be
// installed where this project is developed and tested; the virnucpro commands are the ones the Snakemake
// workflow runs in CI (workflows/snakemake/Snakefile), flag for flag.
//
// One process, three steps, chosen by `step`, all on the same output directory `outdir` (an absolute path on a
// filesystem every task sees; it is passed as a value, not staged, because the N slice tasks write into it
// together):
//
//   'plan'     virnucpro predict FASTA ARGS -o OUTDIR --plan-only --resume
//   'I/N'      virnucpro predict FASTA ARGS -o OUTDIR --resume --units I/N        (one task per slice)
//   'gather'   virnucpro predict FASTA ARGS -o OUTDIR --resume                    (writes the outputs)
//
// ARGS is task.ext.args (modules.config): -e, the models and any result-changing flag, identical for every step.
// The gather step also copies the outputs into the task directory, so that they can be emitted as files.
process VIRNUCPRO_PREDICT {
    tag "${meta.id} ${step}"
    label 'process_high'

    input:
    tuple val(meta), path(fasta), val(outdir), val(step)

    output:
    tuple val(meta), path(fasta), val(outdir), emit: run
    tuple val(meta), path("${meta.id}/prediction_results.txt"), optional: true, emit: predictions
    tuple val(meta), path("${meta.id}/prediction_results_highestscore.csv"), optional: true, emit: highestscore
    tuple val(meta), path("${meta.id}/summary.tsv"), optional: true, emit: summary
    tuple val(meta), path("${meta.id}/run.json"), optional: true, emit: run_json
    path "versions.yml", emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def stepFlags = step == 'plan' ? '--plan-only --resume' : step == 'gather' ? '--resume' : "--resume --units ${step}"
    def collect = step == 'gather' ? """
    mkdir -p ${meta.id}
    cp ${outdir}/prediction_results.txt ${outdir}/prediction_results_highestscore.csv ${outdir}/summary.tsv ${outdir}/run.json ${meta.id}/
    """ : ''
    """
    virnucpro predict ${fasta} ${args} -o ${outdir} ${stepFlags}
    ${collect}
    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(virnucpro --version)
    END_VERSIONS
    """

    stub:
    """
    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        virnucpro: \$(virnucpro --version)
    END_VERSIONS
    """
}
