#!/usr/bin/env nextflow
// Scatter/gather VirNucPro-TS run over one or more inputs: plan -> N slice tasks -> gather, per input.
// NOT RUN HERE (Nextflow could not be installed where this was written); the virnucpro commands are those of the
// tested Snakemake workflow (workflows/snakemake/Snakefile). See workflows/nextflow/README.md.
//
//   nextflow run workflows/nextflow/main.nf --input 'reads/*.fa.gz' --shared_dir /scratch/$USER/virnucpro \
//       --slices 16 --virnucpro_args '-e 500 --models /shared/vnp500'
nextflow.enable.dsl = 2

params.input = null            // a file or a glob of input files
params.shared_dir = null       // absolute directory on a filesystem every task sees; one output directory per input inside
params.slices = 8              // N: slice tasks per input
params.virnucpro_args = ''     // -e, the models and any result-changing flag (the same for every step)

include { VIRNUCPRO_PREDICT as VIRNUCPRO_PLAN   } from './modules/virnucpro/predict/main'
include { VIRNUCPRO_PREDICT as VIRNUCPRO_UNITS  } from './modules/virnucpro/predict/main'
include { VIRNUCPRO_PREDICT as VIRNUCPRO_GATHER } from './modules/virnucpro/predict/main'

workflow {
    if (!params.input || !params.shared_dir) error "give --input and --shared_dir (an absolute path every task sees)"
    def n = params.slices as int
    def inputs = Channel.fromPath(params.input, checkIfExists: true).map { fasta ->
        def meta = [id: fasta.simpleName]
        tuple(meta, fasta, "${file(params.shared_dir)}/${meta.id}_virnucpro".toString(), 'plan')
    }
    VIRNUCPRO_PLAN(inputs)
    def slices = VIRNUCPRO_PLAN.out.run
        .combine(Channel.of(1..n))
        .map { meta, fasta, outdir, i -> tuple(meta, fasta, outdir, "${i}/${n}".toString()) }
    VIRNUCPRO_UNITS(slices)
    // The gather of an input waits for all N of its slice tasks.
    def gathered = VIRNUCPRO_UNITS.out.run
        .groupTuple(size: n)
        .map { meta, fastas, outdirs -> tuple(meta, fastas[0], outdirs[0], 'gather') }
    VIRNUCPRO_GATHER(gathered)
}
