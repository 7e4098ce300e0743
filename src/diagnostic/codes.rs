//! The catalog of diagnostic codes: every code qdx raises is a constant here, with a line
//! saying when it is raised.
//!
//! A code is `qdx::<stage>::<name>`; the constant is `codes::<stage>::<NAME>`. Use sites import
//! their stage's submodule as `code` (`use crate::diagnostic::codes::validate as code;`, then
//! `Diagnostic::error(code::UNIT_MISMATCH, …)`); a code of another stage is written in full
//! (`codes::load::UNKNOWN_MODULE`).
//!
//! Codes are part of qdx's interface: users search for them, and `qdx explain` and a language
//! server read [`all`]. A released code keeps its spelling.
//!
//! Invariants:
//! - every constant's value is `qdx::<its submodule>::<its name in lower case>` (tested below);
//! - no two constants share a value (tested below);
//! - no `"qdx::` string literal appears in `src/` outside this file, so a code cannot be raised
//!   without being in the catalog (tested below);
//! - [`all`] lists every constant once, with its doc line: the `catalog!` macro writes both from
//!   the same text, so they cannot drift.

/// One entry of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// The code, as diagnostics carry it: `qdx::validate::unit_mismatch`.
    pub code: &'static str,
    /// When it is raised: the constant's doc line.
    pub doc: &'static str,
    /// The submodule the constant is in: `validate`.
    pub stage: &'static str,
    /// The constant's name: `UNIT_MISMATCH`.
    pub name: &'static str,
}

/// Every code of the catalog, stage by stage, in the order they are declared.
pub fn all() -> &'static [Code] {
    ALL
}

/// Declares the stage submodules and their constants, and [`ALL`] from the same text. Each
/// constant takes exactly one doc line (a second line does not match the macro).
macro_rules! catalog {
    ($(
        $(#[doc = $stage_doc:literal])+
        pub mod $stage:ident {
            $(
                #[doc = $doc:literal]
                pub const $name:ident: &str = $code:literal;
            )*
        }
    )*) => {
        $(
            $(#[doc = $stage_doc])+
            pub mod $stage {
                $(
                    #[doc = $doc]
                    pub const $name: &str = $code;
                )*
            }
        )*

        const ALL: &[Code] = &[
            $($(
                Code {
                    code: $stage::$name,
                    doc: $doc.trim_ascii(),
                    stage: stringify!($stage),
                    name: stringify!($name),
                },
            )*)*
        ];
    };
}

catalog! {
    /// Reading the text: the parser and the version header.
    pub mod syntax {
        /// The parser produced no file at all ("empty parse"); no input is known to cause it.
        pub const EMPTY: &str = "qdx::syntax::empty";
        /// An expression is nested more deeply than the parser follows.
        pub const EXPRESSION_TOO_DEEP: &str = "qdx::syntax::expression_too_deep";
        /// An integer literal does not fit in 64 bits.
        pub const INTEGER_TOO_LARGE: &str = "qdx::syntax::integer_too_large";
        /// The parse tree has a shape the parser does not expect: a bug in qdx.
        pub const INTERNAL: &str = "qdx::syntax::internal";
        /// The file does not start with its version header, `qdx 1`.
        pub const MISSING_VERSION: &str = "qdx::syntax::missing_version";
        /// A number literal is not a finite number (`1e999`).
        pub const NUMBER_OUT_OF_RANGE: &str = "qdx::syntax::number_out_of_range";
        /// Brackets nest more levels deep than the parser allows, found before parsing.
        pub const TOO_DEEP: &str = "qdx::syntax::too_deep";
        /// A block comment is opened and never closed.
        pub const UNCLOSED_COMMENT: &str = "qdx::syntax::unclosed_comment";
        /// A string runs to the end of its line without its closing quote.
        pub const UNCLOSED_STRING: &str = "qdx::syntax::unclosed_string";
        /// A token that cannot come here; the label lists what can.
        pub const UNEXPECTED: &str = "qdx::syntax::unexpected";
        /// The file ends in the middle of a construct, often an unclosed bracket.
        pub const UNEXPECTED_END: &str = "qdx::syntax::unexpected_end";
        /// The version header names a language version this qdx does not read.
        pub const UNSUPPORTED_VERSION: &str = "qdx::syntax::unsupported_version";
    }

    /// Loading files: imports, standard-library modules and the paths a campaign names.
    pub mod load {
        /// A path the campaign names (an import, a table, a script, prior data) is absolute.
        pub const ABSOLUTE_PATH: &str = "qdx::load::absolute_path";
        /// A path the campaign names is empty.
        pub const EMPTY_PATH: &str = "qdx::load::empty_path";
        /// An imported file imports, directly or not, the campaign file itself.
        pub const IMPORT_CYCLE: &str = "qdx::load::import_cycle";
        /// A path the campaign names leads outside the campaign's folder.
        pub const OUTSIDE_FOLDER: &str = "qdx::load::outside_folder";
        /// A campaign, imported or named file cannot be read (missing, unreadable, not UTF-8).
        pub const READ: &str = "qdx::load::read";
        /// `use` names a module the standard library does not have.
        pub const UNKNOWN_MODULE: &str = "qdx::load::unknown_module";
    }

    /// Checking a campaign: names, units, the reactor, the search space, measurements,
    /// objectives, the optimizer and safety.
    pub mod validate {
        /// A variable is bound to a device with several settings without saying which one.
        pub const AMBIGUOUS_SETTING: &str = "qdx::validate::ambiguous_setting";
        /// A math function gets named arguments, or the wrong number of arguments.
        pub const ARGUMENT: &str = "qdx::validate::argument";
        /// A spectral function's argument is not of the parameter's type.
        pub const ARGUMENT_TYPE: &str = "qdx::validate::argument_type";
        /// A spectral function's argument is outside what it can mean (an index below 1).
        pub const ARGUMENT_RANGE: &str = "qdx::validate::argument_range";
        /// `derive` assigns to a variable or parameter.
        pub const ASSIGN_TO_INPUT: &str = "qdx::validate::assign_to_input";
        /// `derive` assigns to a device property, which the reactor block fixes.
        pub const ASSIGN_TO_PROPERTY: &str = "qdx::validate::assign_to_property";
        /// A measurement's `average` is not a whole number of scans between 1 and 10000.
        pub const AVERAGE: &str = "qdx::validate::average";
        /// The optimizer's batch is not between 1 and 1000 experiments.
        pub const BATCH: &str = "qdx::validate::batch";
        /// A temperature literal is below absolute zero.
        pub const BELOW_ABSOLUTE_ZERO: &str = "qdx::validate::below_absolute_zero";
        /// With parallel lines, the optimizer's batch is not one experiment per line.
        pub const BATCH_LINES: &str = "qdx::validate::batch_lines";
        /// A budget of zero experiments, or a reagent or time budget not above zero.
        pub const BUDGET: &str = "qdx::validate::budget";
        /// The optimizer's batch is larger than the experiment budget.
        pub const BUDGET_BATCH: &str = "qdx::validate::budget_batch";
        /// A grid has more points that satisfy the constraints than the experiment budget allows.
        pub const BUDGET_GRID: &str = "qdx::validate::budget_grid";
        /// The initial design has more experiments than the experiment budget.
        pub const BUDGET_INITIAL: &str = "qdx::validate::budget_initial";
        /// An imported file has a `campaign` block; only the campaign file may.
        pub const CAMPAIGN_IN_IMPORT: &str = "qdx::validate::campaign_in_import";
        /// The campaign name contains `/`, `\` or control characters (it becomes a folder name).
        pub const CAMPAIGN_NAME: &str = "qdx::validate::campaign_name";
        /// A measurement is made at a cell that has no spectrometer.
        pub const CELL_WITHOUT_SPECTROMETER: &str = "qdx::validate::cell_without_spectrometer";
        /// A device kind lists a channel other than `absorbance` and `photoluminescence`.
        pub const CHANNEL: &str = "qdx::validate::channel";
        /// A proxy reads a channel (absorbance, photoluminescence) that no measurement reads.
        pub const CHANNEL_NOT_MEASURED: &str = "qdx::validate::channel_not_measured";
        /// A measurement reads a channel its cell's spectrometer does not measure.
        pub const CHANNEL_UNSUPPORTED: &str = "qdx::validate::channel_unsupported";
        /// A cell names a light for one measured channel but none for another.
        pub const CHANNEL_WITHOUT_LIGHT: &str = "qdx::validate::channel_without_light";
        /// A choice variable is used in arithmetic; it has no numeric value.
        pub const CHOICE_IN_EXPRESSION: &str = "qdx::validate::choice_in_expression";
        /// A simulated table's `inputs` or `outputs` is not a list of names.
        pub const COLUMN_LIST: &str = "qdx::validate::column_list";
        /// An item of a simulated table's column list is neither a name nor a string.
        pub const COLUMN_NAME: &str = "qdx::validate::column_name";
        /// A virtual lab's `units` is not a block, or one of its units is neither a name nor a string.
        pub const COLUMN_UNIT: &str = "qdx::validate::column_unit";
        /// Warning: `combine` is given, but there is only one objective.
        pub const COMBINE_SINGLE: &str = "qdx::validate::combine_single";
        /// A composition component's range is not within 0 .. the composition's total.
        pub const COMPONENT_RANGE: &str = "qdx::validate::component_range";
        /// A composition variable is bound to one device setting.
        pub const COMPOSITION_BINDING: &str = "qdx::validate::composition_binding";
        /// No composition within its components' ranges sums to its total.
        pub const COMPOSITION_INFEASIBLE: &str = "qdx::validate::composition_infeasible";
        /// A composition has fewer than two components.
        pub const COMPOSITION_SIZE: &str = "qdx::validate::composition_size";
        /// A composition's total is not above zero.
        pub const COMPOSITION_TOTAL: &str = "qdx::validate::composition_total";
        /// A composition is used as a value instead of one of its components.
        pub const COMPOSITION_VALUE: &str = "qdx::validate::composition_value";
        /// A comparison (`<`, `>=`, …) stands where a value is expected.
        pub const CONDITION_IN_VALUE: &str = "qdx::validate::condition_in_value";
        /// The reactor's connections form a cycle.
        pub const CYCLE: &str = "qdx::validate::cycle";
        /// A device of the reactor is in no connection.
        pub const DANGLING_DEVICE: &str = "qdx::validate::dangling_device";
        /// A declared data file is not a table of numbers under a header of column names.
        pub const DATA_FILE: &str = "qdx::validate::data_file";
        /// Two data files are declared under one name.
        pub const DATA_TWICE: &str = "qdx::validate::data_twice";
        /// A `fit` expression reads what it cannot (a state in an initial value or `time`).
        pub const FIT: &str = "qdx::validate::fit";
        /// A fitted parameter's bounds are not constants, not increasing, or not positive on a log scale.
        pub const FIT_BOUNDS: &str = "qdx::validate::fit_bounds";
        /// A `fit` lacks a rate for a state, a parameter, an observation or its `time`.
        pub const FIT_INCOMPLETE: &str = "qdx::validate::fit_incomplete";
        /// A name, a rate, a `time` or an observation given twice in a `fit`, or a fit's name twice.
        pub const FIT_TWICE: &str = "qdx::validate::fit_twice";
        /// A `fit`'s equations do not balance (a rate, an observation or its `time`).
        pub const FIT_UNITS: &str = "qdx::validate::fit_units";
        /// `observe` names no proxy of the campaign.
        pub const FIT_UNKNOWN_PROXY: &str = "qdx::validate::fit_unknown_proxy";
        /// `rate` names no state of the fit.
        pub const FIT_UNKNOWN_STATE: &str = "qdx::validate::fit_unknown_state";
        /// A state of a `fit` that no observation depends on.
        pub const FIT_UNOBSERVED: &str = "qdx::validate::fit_unobserved";
        /// The flow stops at a device with no outlet downstream.
        pub const DEAD_END: &str = "qdx::validate::dead_end";
        /// `derive` assigns to something that is neither a name nor a device setting.
        pub const DERIVE_TARGET: &str = "qdx::validate::derive_target";
        /// The same value is derived twice.
        pub const DERIVED_TWICE: &str = "qdx::validate::derived_twice";
        /// An initial design, a grid or a design strategy has more experiments than qdx plans.
        pub const DESIGN_TOO_LARGE: &str = "qdx::validate::design_too_large";
        /// A device is used as a value.
        pub const DEVICE_AS_VALUE: &str = "qdx::validate::device_as_value";
        /// A device of one role is named where a device of another role is needed.
        pub const DEVICE_ROLE: &str = "qdx::validate::device_role";
        /// A `droplets` measurement is incomplete or out of range (its carrier, its train, its detection, its readings).
        pub const DROPLETS: &str = "qdx::validate::droplets";
        /// A `droplets` measurement is combined with what qdx cannot map per droplet (a probe, a ramp, replicates).
        pub const DROPLETS_UNSUPPORTED: &str = "qdx::validate::droplets_unsupported";
        /// A spectral function's argument is given twice.
        pub const DUPLICATE_ARGUMENT: &str = "qdx::validate::duplicate_argument";
        /// A campaign has a second block of a kind it has only one of.
        pub const DUPLICATE_BLOCK: &str = "qdx::validate::duplicate_block";
        /// `combine` is given twice.
        pub const DUPLICATE_COMBINE: &str = "qdx::validate::duplicate_combine";
        /// A composition lists a component twice.
        pub const DUPLICATE_COMPONENT: &str = "qdx::validate::duplicate_component";
        /// A device is declared twice.
        pub const DUPLICATE_DEVICE: &str = "qdx::validate::duplicate_device";
        /// An entry is given twice in the `measure` block or in the campaign block.
        pub const DUPLICATE_ENTRY: &str = "qdx::validate::duplicate_entry";
        /// A device kind is declared twice.
        pub const DUPLICATE_KIND: &str = "qdx::validate::duplicate_kind";
        /// A level is listed twice, in a grid's levels or among a choice variable's levels.
        pub const DUPLICATE_LEVEL: &str = "qdx::validate::duplicate_level";
        /// A grid gives the levels of one variable twice.
        pub const DUPLICATE_LEVELS: &str = "qdx::validate::duplicate_levels";
        /// A parameter has the name of another parameter or of a variable.
        pub const DUPLICATE_NAME: &str = "qdx::validate::duplicate_name";
        /// `map` next to `maximize`/`minimize`/`target`, or twice.
        pub const MAP_OBJECTIVE: &str = "qdx::validate::map_objective";
        /// A map acquisition without a `map`, an optimising acquisition or strategy with one.
        pub const MAP_STRATEGY: &str = "qdx::validate::map_strategy";
        /// `prior_mean` names no `fit` block.
        pub const PRIOR_MEAN_UNKNOWN_FIT: &str = "qdx::validate::prior_mean_unknown_fit";
        /// `prior_mean` names a fit that observes no objective's proxy, or the options rule out the composite model.
        pub const PRIOR_MEAN: &str = "qdx::validate::prior_mean";
        /// A `match` names a level the choice lacks, gives a level twice, or leaves one out.
        pub const MATCH_LEVEL: &str = "qdx::validate::match_level";
        /// A `match` is over something other than a choice variable, or where none is visible.
        pub const MATCH_SUBJECT: &str = "qdx::validate::match_subject";
        /// A proxy has two objectives.
        pub const DUPLICATE_OBJECTIVE: &str = "qdx::validate::duplicate_objective";
        /// A fault has two policies.
        pub const DUPLICATE_POLICY: &str = "qdx::validate::duplicate_policy";
        /// A device property is given twice.
        pub const DUPLICATE_PROPERTY: &str = "qdx::validate::duplicate_property";
        /// A proxy is defined twice.
        pub const DUPLICATE_PROXY: &str = "qdx::validate::duplicate_proxy";
        /// A stock is declared twice.
        pub const DUPLICATE_STOCK: &str = "qdx::validate::duplicate_stock";
        /// A variable is declared twice.
        pub const DUPLICATE_VARIABLE: &str = "qdx::validate::duplicate_variable";
        /// The campaign's name is empty.
        pub const EMPTY_NAME: &str = "qdx::validate::empty_name";
        /// A desirability range's lower end is not below its upper end.
        pub const EMPTY_RAMP: &str = "qdx::validate::empty_ramp";
        /// A range's low end is not below its high end (a variable's, a property's, wavelengths).
        pub const EMPTY_RANGE: &str = "qdx::validate::empty_range";
        /// An `excitation` (a spectrometer's, or `relative_plqy`'s) disagrees with the wavelength of the photoluminescence light.
        pub const EXCITATION_MISMATCH: &str = "qdx::validate::excitation_mismatch";
        /// A `flush` is incomplete or has a pump, rate or volume count that cannot be.
        pub const FLUSH: &str = "qdx::validate::flush";
        /// A `blank` is incomplete, has a pump, rate or volume count that cannot be, or a repeat interval that cannot be.
        pub const BLANK: &str = "qdx::validate::blank";
        /// A `reference_dye` line is incomplete or cannot be measured: no blank, no proxy naming a dye, several dyes, or a pump the experiments drive.
        pub const REFERENCE_DYE: &str = "qdx::validate::reference_dye";
        /// Not shown: an error that follows from one already reported (the validator drops it).
        pub const FOLLOW_ON: &str = "qdx::validate::follow_on";
        /// A grid over a composition has no levels for it, or levels that give no point inside its parts' ranges.
        pub const GRID_COMPOSITION: &str = "qdx::validate::grid_composition";
        /// No point of a grid satisfies the constraints.
        pub const GRID_INFEASIBLE: &str = "qdx::validate::grid_infeasible";
        /// A grid has no levels for some of the variables.
        pub const GRID_WITHOUT_LEVELS: &str = "qdx::validate::grid_without_levels";
        /// A stock of the halide-exchange model has no halide, or one the model does not know.
        pub const HALIDE: &str = "qdx::validate::halide";
        /// A device's lower limit is above its upper limit, so it can never be set.
        pub const IMPOSSIBLE_LIMITS: &str = "qdx::validate::impossible_limits";
        /// No experiment within the variables' ranges satisfies the constraints.
        pub const INFEASIBLE: &str = "qdx::validate::infeasible";
        /// An unknown initial design, one given to a design, or one of no experiments.
        pub const INITIAL_DESIGN: &str = "qdx::validate::initial_design";
        /// A measurement's integration time is outside 0.1 ms .. 60 s.
        pub const INTEGRATION: &str = "qdx::validate::integration";
        /// An index the validator resolved itself is out of range: a bug in qdx.
        pub const INTERNAL: &str = "qdx::validate::internal";
        /// A device kind comes from a module the file does not import.
        pub const KIND_NOT_IMPORTED: &str = "qdx::validate::kind_not_imported";
        /// A campaign file has a `lab` block; bindings belong in a lab file.
        pub const LAB_IN_CAMPAIGN: &str = "qdx::validate::lab_in_campaign";
        /// Warning: a lamp's band covers only part of the spectrometer's range.
        pub const LAMP_COVERAGE: &str = "qdx::validate::lamp_coverage";
        /// A grid's level count is not 2 to 10000, or its list of levels is empty.
        pub const LEVEL_COUNT: &str = "qdx::validate::level_count";
        /// A grid level lies outside its variable's range.
        pub const LEVEL_OUTSIDE: &str = "qdx::validate::level_outside";
        /// A grid gives levels to a choice variable, whose options are its levels.
        pub const LEVELS_OF_CHOICE: &str = "qdx::validate::levels_of_choice";
        /// `levels` are given to an optimizer that is not a grid.
        pub const LEVELS_WITHOUT_GRID: &str = "qdx::validate::levels_without_grid";
        /// A measurement names a light that cannot serve it: a narrow-band light for absorbance, a lamp for photoluminescence, a band that misses what is read, or any light for a SAXS or CD channel (the instrument's own source serves it).
        pub const LIGHT_UNSUITABLE: &str = "qdx::validate::light_unsuitable";
        /// A safety limit's bound is not a constant value.
        pub const LIMIT_NOT_CONSTANT: &str = "qdx::validate::limit_not_constant";
        /// A safety limit's subject is not one value (a variable, derived value or setting).
        pub const LIMIT_SUBJECT: &str = "qdx::validate::limit_subject";
        /// A log-scale variable's range is not above zero.
        pub const LOG_SCALE: &str = "qdx::validate::log_scale";
        /// A spectral function is called without one of its required arguments.
        pub const MISSING_ARGUMENT: &str = "qdx::validate::missing_argument";
        /// A device lacks properties its kind requires.
        pub const MISSING_PROPERTY: &str = "qdx::validate::missing_property";
        /// A simulation model is not told which stock plays one of its roles.
        pub const MISSING_ROLE: &str = "qdx::validate::missing_role";
        /// A number has no unit where a quantity is expected.
        pub const MISSING_UNIT: &str = "qdx::validate::missing_unit";
        /// A concentration, or a device's volume or flow-rate property, is negative.
        pub const NEGATIVE: &str = "qdx::validate::negative";
        /// A spectral function is called inside a formula instead of as a proxy of its own.
        pub const NESTED_BUILTIN: &str = "qdx::validate::nested_builtin";
        /// The campaign file has no `campaign` block.
        pub const NO_CAMPAIGN: &str = "qdx::validate::no_campaign";
        /// A measurement reads no spectrum.
        pub const NO_CHANNELS: &str = "qdx::validate::no_channels";
        /// Nothing is measured: no `measure` block, or a spectral proxy with no measurement.
        pub const NO_MEASUREMENT: &str = "qdx::validate::no_measurement";
        /// An optimizing strategy is chosen, but the campaign has no objective.
        pub const NO_OBJECTIVE: &str = "qdx::validate::no_objective";
        /// `readings` are used without a virtual lab (`simulate table` or `simulate script`).
        pub const NO_READINGS: &str = "qdx::validate::no_readings";
        /// Warning: the campaign has no `seed`, so runs use seed 0.
        pub const NO_SEED: &str = "qdx::validate::no_seed";
        /// A variable is bound to a device that has no setting a variable can drive.
        pub const NO_SETTING: &str = "qdx::validate::no_setting";
        /// Nothing sets a device's setting: no derived value, variable or parameter.
        pub const NO_SETTING_VALUE: &str = "qdx::validate::no_setting_value";
        /// A stop or target condition is not a condition on proxies.
        pub const NOT_A_CONDITION: &str = "qdx::validate::not_a_condition";
        /// A constraint does not compare two values.
        pub const NOT_A_CONSTRAINT: &str = "qdx::validate::not_a_constraint";
        /// A safety limit does not compare a value with a constant.
        pub const NOT_A_LIMIT: &str = "qdx::validate::not_a_limit";
        /// Something that is not a number or a quantity stands where one is expected.
        pub const NOT_A_NUMBER: &str = "qdx::validate::not_a_number";
        /// A property value, which must be a constant (a number with its unit), names something.
        pub const NOT_CONSTANT: &str = "qdx::validate::not_constant";
        /// A constant is not a finite number (a property, an objective's value, a lab binding's setting).
        pub const NOT_FINITE: &str = "qdx::validate::not_finite";
        /// A heater or spectrometer, which liquid does not flow through, is in a connection.
        pub const NOT_IN_FLOW_PATH: &str = "qdx::validate::not_in_flow_path";
        /// An integer variable's bounds are not whole numbers without units.
        pub const NOT_INTEGER: &str = "qdx::validate::not_integer";
        /// A path length, excitation wavelength, wavelength range or syringe volume is not above zero.
        pub const NOT_POSITIVE: &str = "qdx::validate::not_positive";
        /// Warning: a desirability ramps over the values observed so far, not a stated range.
        pub const OBSERVED_RAMP: &str = "qdx::validate::observed_ramp";
        /// A choice variable has only one option.
        pub const ONE_CHOICE: &str = "qdx::validate::one_choice";
        /// A one-sided target (`>=`, `<=`) has a tolerance.
        pub const ONE_SIDED_TOLERANCE: &str = "qdx::validate::one_sided_tolerance";
        /// An optimizer option's value has the wrong form or is out of its range.
        pub const OPTION_VALUE: &str = "qdx::validate::option_value";
        /// A value can reach beyond a device's limits or a safety limit.
        pub const OUT_OF_LIMITS: &str = "qdx::validate::out_of_limits";
        /// An outlet feeds another device.
        pub const OUTLET_FEEDS: &str = "qdx::validate::outlet_feeds";
        /// A simulation model's parameter is outside the model's range.
        pub const PARAMETER_RANGE: &str = "qdx::validate::parameter_range";
        /// A simulation model's parameter is not a single value.
        pub const PARAMETER_VALUE: &str = "qdx::validate::parameter_value";
        /// A positional argument follows a named one.
        pub const POSITIONAL_AFTER_NAMED: &str = "qdx::validate::positional_after_named";
        /// A quantity with a unit is raised to a power that is not a whole-number constant.
        pub const POWER: &str = "qdx::validate::power";
        /// Prior data has no column for some of the variables.
        pub const PRIOR_COLUMNS: &str = "qdx::validate::prior_columns";
        /// Prior data cannot be read.
        pub const PRIOR_DATA: &str = "qdx::validate::prior_data";
        /// Prior data is in a format qdx does not know (it knows `csv` and `bundle`).
        pub const PRIOR_FORMAT: &str = "qdx::validate::prior_format";
        /// Warning: some rows of prior data lie outside the variables' ranges and are left out.
        pub const PRIOR_OUTSIDE: &str = "qdx::validate::prior_outside";
        /// A device property used as a value is not a number.
        pub const PROPERTY_NOT_NUMERIC: &str = "qdx::validate::property_not_numeric";
        /// A property's value is not of the type its kind, stock or reference declares.
        pub const PROPERTY_TYPE: &str = "qdx::validate::property_type";
        /// A `probe` is incomplete, names no coil on the way to the cell, or lists its points out of order.
        pub const PROBE: &str = "qdx::validate::probe";
        /// A probe point lies outside its coil (at or before its inlet, or past its volume).
        pub const PROBE_OUTSIDE_COIL: &str = "qdx::validate::probe_outside_coil";
        /// A pump receives flow from another device.
        pub const PUMP_FED: &str = "qdx::validate::pump_fed";
        /// A pump is given a second stock.
        pub const PUMP_TWO_STOCKS: &str = "qdx::validate::pump_two_stocks";
        /// Warning: a pump has no stock.
        pub const PUMP_WITHOUT_STOCK: &str = "qdx::validate::pump_without_stock";
        /// A proxy formula uses `readings.<name>`, which only a proxy of its own may read.
        pub const READING_IN_FORMULA: &str = "qdx::validate::reading_in_formula";
        /// `readings` is used without naming one reading (`readings.<name>`).
        pub const READING_NAME: &str = "qdx::validate::reading_name";
        /// A reference dye has no `quantum_yield`.
        pub const REFERENCE_INCOMPLETE: &str = "qdx::validate::reference_incomplete";
        /// A Pareto reference point lacks a value for an objective, or is written wrongly.
        pub const REFERENCE_POINT: &str = "qdx::validate::reference_point";
        /// A reference dye's quantum yield is not between 0 and 1.
        pub const REFERENCE_QY: &str = "qdx::validate::reference_qy";
        /// A measurement's replicates are not between 1 and 1000.
        pub const REPLICATES: &str = "qdx::validate::replicates";
        /// A fault policy's retry count is not between 1 and 100.
        pub const RETRY_COUNT: &str = "qdx::validate::retry_count";
        /// `retry` is not the first action of a fault policy.
        pub const RETRY_POSITION: &str = "qdx::validate::retry_position";
        /// A simulation model's stock role does not name a stock (or a list of stocks).
        pub const ROLE: &str = "qdx::validate::role";
        /// A device's kind is of another role than the device is declared as.
        pub const ROLE_MISMATCH: &str = "qdx::validate::role_mismatch";
        /// A `route` is incomplete, or names valve positions that cannot be.
        pub const ROUTE: &str = "qdx::validate::route";
        /// A device's safe setpoint is outside the device's range.
        pub const SAFE_SETPOINT: &str = "qdx::validate::safe_setpoint";
        /// An inline script (a proxy's or a model's) does not compile or fails when run.
        pub const SCRIPT: &str = "qdx::validate::script";
        /// A proxy or model script's dry run at `qdx check` runs past a limit of the sandbox.
        pub const SCRIPT_LIMIT: &str = "qdx::validate::script_limit";
        /// A model script does not say what it reports (`outputs [y]`).
        pub const SCRIPT_OUTPUTS: &str = "qdx::validate::script_outputs";
        /// A proxy or model script ends with something other than a number or map of numbers.
        pub const SCRIPT_RESULT: &str = "qdx::validate::script_result";
        /// The optimizer cannot work on the campaign (its domain, pool or prior data).
        pub const SEARCH_SPACE: &str = "qdx::validate::search_space";
        /// The halide-exchange model's seed stock declares a halide other than bromide.
        pub const SEED_HALIDE: &str = "qdx::validate::seed_halide";
        /// A connection leads from a device to itself.
        pub const SELF_LOOP: &str = "qdx::validate::self_loop";
        /// A derived setting is one the runtime never sends (a valve's position, a custom setting).
        pub const SETTING_NOT_DRIVEN: &str = "qdx::validate::setting_not_driven";
        /// A device setting is set twice (bound to a variable and derived, or derived twice).
        pub const SETTING_SET_TWICE: &str = "qdx::validate::setting_set_twice";
        /// A device kind's setting is neither a quantity nor an integer.
        pub const SETTING_TYPE: &str = "qdx::validate::setting_type";
        /// A device setting is used as a value before anything sets it.
        pub const SETTING_WITHOUT_VALUE: &str = "qdx::validate::setting_without_value";
        /// A steady-state settling band is not above zero.
        pub const SETTLE: &str = "qdx::validate::settle";
        /// A spectrum is used as a number.
        pub const SPECTRUM_AS_VALUE: &str = "qdx::validate::spectrum_as_value";
        /// The flow splits: a device other than a valve feeds two devices (no parallel reactors).
        pub const SPLIT_FLOW: &str = "qdx::validate::split_flow";
        /// The reactor's parallel lines are declared in two `lines` entries.
        pub const LINES_TWICE: &str = "qdx::validate::lines_twice";
        /// A line name appears twice in `lines`.
        pub const DUPLICATE_LINE: &str = "qdx::validate::duplicate_line";
        /// `lines` names one line (the reactor as declared already is one).
        pub const ONE_LINE: &str = "qdx::validate::one_line";
        /// Parallel lines on a table or script lab, which has no reactor.
        pub const LINES_VIRTUAL_LAB: &str = "qdx::validate::lines_virtual_lab";
        /// The steady-state wait is not longer than zero.
        pub const STEADY_STATE: &str = "qdx::validate::steady_state";
        /// A strategy that moves through continuous space only meets a choice variable.
        pub const STRATEGY_CATEGORICAL: &str = "qdx::validate::strategy_categorical";
        /// A strategy that cannot pick table rows is used with a table in pool mode.
        pub const STRATEGY_POOL: &str = "qdx::validate::strategy_pool";
        /// A simulated table has no column of a name the campaign gives.
        pub const TABLE_COLUMN: &str = "qdx::validate::table_column";
        /// A table's `columns` is not names mapped to column headers, or maps neither an input nor an output.
        pub const TABLE_COLUMNS: &str = "qdx::validate::table_columns";
        /// A table's `delimiter` is not one character in quotes.
        pub const TABLE_DELIMITER: &str = "qdx::validate::table_delimiter";
        /// A simulated table's file cannot be used as a table.
        pub const TABLE_FILE: &str = "qdx::validate::table_file";
        /// A simulated table's input column is not a variable of the campaign.
        pub const TABLE_INPUT: &str = "qdx::validate::table_input";
        /// A simulated table's mode is neither `pool` nor `emulator`.
        pub const TABLE_MODE: &str = "qdx::validate::table_mode";
        /// A simulated table has no output column.
        pub const TABLE_OUTPUTS: &str = "qdx::validate::table_outputs";
        /// A variable is not an input of the simulated table.
        pub const TABLE_UNFED: &str = "qdx::validate::table_unfed";
        /// An absolute temperature is negated, scaled, or mixed with a temperature difference.
        pub const TEMPERATURE: &str = "qdx::validate::temperature";
        /// `then` in a fault policy does not follow a `retry`.
        pub const THEN_WITHOUT_RETRY: &str = "qdx::validate::then_without_retry";
        /// A device's time property, a refill, a flush or the steady-state wait exceeds 7 days.
        pub const TIME_RANGE: &str = "qdx::validate::time_range";
        /// A target's tolerance is negative.
        pub const TOLERANCE: &str = "qdx::validate::tolerance";
        /// A spectral function gets more arguments than it takes.
        pub const TOO_MANY_ARGUMENTS: &str = "qdx::validate::too_many_arguments";
        /// A `transient` measurement is incomplete or out of range (its ramp, its spectra, its interval).
        pub const TRANSIENT: &str = "qdx::validate::transient";
        /// Warning: under the declared axial dispersion each spectrum of a ramp mixes fluid from a large part of it, or the dispersion is beyond the model's small-dispersion range.
        pub const TRANSIENT_DISPERSION: &str = "qdx::validate::transient_dispersion";
        /// A `transient` measurement asks for what qdx cannot map back to conditions (a ramp that changes more than the flow).
        pub const TRANSIENT_UNSUPPORTED: &str = "qdx::validate::transient_unsupported";
        /// Warning: a device (a heater, a spectrometer) is not attached to anything.
        pub const UNATTACHED: &str = "qdx::validate::unattached";
        /// Nothing ends the campaign: no budget and no stop condition.
        pub const UNBOUNDED: &str = "qdx::validate::unbounded";
        /// There are several objectives but no rule to combine them.
        pub const UNCOMBINED_OBJECTIVES: &str = "qdx::validate::uncombined_objectives";
        /// Nothing flows into a device: no pump upstream.
        pub const UNFED_DEVICE: &str = "qdx::validate::unfed_device";
        /// A proxy calls a declared spectral function that qdx has no implementation of.
        pub const UNIMPLEMENTED_FUNCTION: &str = "qdx::validate::unimplemented_function";
        /// A unit is malformed or does not fit its function (square root, `ln` of a quantity).
        pub const UNIT: &str = "qdx::validate::unit";
        /// A unit stands alone, as if it were a name, in a constant value (a property).
        pub const UNIT_AS_NAME: &str = "qdx::validate::unit_as_name";
        /// A virtual lab's `units` names neither one of its inputs nor one of its outputs.
        pub const UNIT_FOR_UNKNOWN_NAME: &str = "qdx::validate::unit_for_unknown_name";
        /// A value's dimension is not the one expected (a volume where a time is needed).
        pub const UNIT_MISMATCH: &str = "qdx::validate::unit_mismatch";
        /// A fault policy names an action qdx does not know.
        pub const UNKNOWN_ACTION: &str = "qdx::validate::unknown_action";
        /// A spectral function has no argument of the name given.
        pub const UNKNOWN_ARGUMENT: &str = "qdx::validate::unknown_argument";
        /// A measurement reads a channel that is not a measurement qdx knows.
        pub const UNKNOWN_CHANNEL: &str = "qdx::validate::unknown_channel";
        /// `combine` names a way to combine objectives qdx does not know.
        pub const UNKNOWN_COMBINE: &str = "qdx::validate::unknown_combine";
        /// A script reads `data(name)` with a name no data file is declared as.
        pub const UNKNOWN_DATA: &str = "qdx::validate::unknown_data";
        /// No device has the name given.
        pub const UNKNOWN_DEVICE: &str = "qdx::validate::unknown_device";
        /// A fault policy names a fault qdx does not raise.
        pub const UNKNOWN_FAULT: &str = "qdx::validate::unknown_fault";
        /// A call names a function (math or spectral) qdx does not know.
        pub const UNKNOWN_FUNCTION: &str = "qdx::validate::unknown_function";
        /// A device names a kind that does not exist.
        pub const UNKNOWN_KIND: &str = "qdx::validate::unknown_kind";
        /// A device has no property or setting of the name given.
        pub const UNKNOWN_MEMBER: &str = "qdx::validate::unknown_member";
        /// `simulate` names a model qdx does not have.
        pub const UNKNOWN_MODEL: &str = "qdx::validate::unknown_model";
        /// A name is not a proxy, variable, parameter or derived value (or is a unit).
        pub const UNKNOWN_NAME: &str = "qdx::validate::unknown_name";
        /// A reference point or a weight names something that is not an objective.
        pub const UNKNOWN_OBJECTIVE: &str = "qdx::validate::unknown_objective";
        /// An optimizer has no option of the name given.
        pub const UNKNOWN_OPTION: &str = "qdx::validate::unknown_option";
        /// A simulation model has no parameter of the name given.
        pub const UNKNOWN_PARAMETER: &str = "qdx::validate::unknown_parameter";
        /// A device, flush, route, measurement, simulated table or script model has no such property.
        pub const UNKNOWN_PROPERTY: &str = "qdx::validate::unknown_property";
        /// An objective names a proxy that is not declared.
        pub const UNKNOWN_PROXY: &str = "qdx::validate::unknown_proxy";
        /// The reactor volume up to a measuring cell cannot be worked out.
        pub const UNKNOWN_REACTOR_VOLUME: &str = "qdx::validate::unknown_reactor_volume";
        /// A proxy reads a reading the virtual lab does not report.
        pub const UNKNOWN_READING: &str = "qdx::validate::unknown_reading";
        /// A reference dye that the standard library does not have.
        pub const UNKNOWN_REFERENCE: &str = "qdx::validate::unknown_reference";
        /// A device kind declares a role qdx does not know.
        pub const UNKNOWN_ROLE: &str = "qdx::validate::unknown_role";
        /// A device has no setting of the name given.
        pub const UNKNOWN_SETTING: &str = "qdx::validate::unknown_setting";
        /// A simulation model or the budget names a stock that is not declared.
        pub const UNKNOWN_STOCK: &str = "qdx::validate::unknown_stock";
        /// The optimizer names a strategy qdx does not have.
        pub const UNKNOWN_STRATEGY: &str = "qdx::validate::unknown_strategy";
        /// A type, parameter type, return type or quantity kind that qdx does not know.
        pub const UNKNOWN_TYPE: &str = "qdx::validate::unknown_type";
        /// A unit qdx does not know.
        pub const UNKNOWN_UNIT: &str = "qdx::validate::unknown_unit";
        /// Grid levels name a variable that is not declared.
        pub const UNKNOWN_VARIABLE: &str = "qdx::validate::unknown_variable";
        /// A pump's flow never reaches the measured cell (a second line: no parallel reactors).
        pub const UNMEASURED_LINE: &str = "qdx::validate::unmeasured_line";
        /// A pump's flow reaches no measuring cell.
        pub const UNMEASURED_PUMP: &str = "qdx::validate::unmeasured_pump";
        /// A safety limit on a value qdx never reads (`pressure`: no pressure sensor is read).
        pub const UNREAD_LIMIT: &str = "qdx::validate::unread_limit";
        /// The analysis cannot prove that a derived value stays within a device's limits.
        pub const UNPROVEN_LIMITS: &str = "qdx::validate::unproven_limits";
        /// The analysis cannot prove that the steady-state wait stays within 7 days.
        pub const UNPROVEN_WAIT: &str = "qdx::validate::unproven_wait";
        /// A virtual lab (`simulate table`, `simulate script`) runs without the campaign's reactor, device settings and `measure` block.
        pub const UNUSED_BY_VIRTUAL_LAB: &str = "qdx::validate::unused_by_virtual_lab";
        /// Warning: a derived value is never used.
        pub const UNUSED_DERIVED: &str = "qdx::validate::unused_derived";
        /// Warning: a device kind is never used.
        pub const UNUSED_KIND: &str = "qdx::validate::unused_kind";
        /// Warning: a parameter is never used.
        pub const UNUSED_PARAMETER: &str = "qdx::validate::unused_parameter";
        /// Warning: a desirability range is given, but the objectives are not combined by it.
        pub const UNUSED_RAMP: &str = "qdx::validate::unused_ramp";
        /// Warning: a variable sets nothing, so the optimizer explores a dimension in vain.
        pub const UNUSED_VARIABLE: &str = "qdx::validate::unused_variable";
        /// A proxy is used before it is defined.
        pub const USED_BEFORE_DEFINED: &str = "qdx::validate::used_before_defined";
        /// A derived value is used before it is derived.
        pub const USED_BEFORE_DERIVED: &str = "qdx::validate::used_before_derived";
        /// Two ways out of a valve join again (a valve choosing between parallel reactors).
        pub const VALVE_REJOIN: &str = "qdx::validate::valve_rejoin";
        /// A wavelength lies outside what the spectrometer measures.
        pub const WAVELENGTH_RANGE: &str = "qdx::validate::wavelength_range";
        /// An objective's weight is not a number above zero.
        pub const WEIGHT: &str = "qdx::validate::weight";
        /// `within` is used on a proxy that has no target.
        pub const WITHIN_WITHOUT_TARGET: &str = "qdx::validate::within_without_target";
    }

    /// Checking a lab file: its bindings, against the drivers and against the campaign.
    pub mod lab {
        /// Two pumps on one daisy chain have the same address.
        pub const ADDRESS_CONFLICT: &str = "qdx::lab::address_conflict";
        /// A measurement averages more scans than the bound spectrometer sums.
        pub const AVERAGES: &str = "qdx::lab::averages";
        /// A campaign measures a channel (SAXS, CD) that no driver of the lab reads.
        pub const CHANNEL_DRIVER: &str = "qdx::lab::channel_driver";
        /// A binding's setting has a value the driver does not accept.
        pub const BAD_SETTING: &str = "qdx::lab::bad_setting";
        /// The driver registry refuses a binding for another reason than a setting.
        pub const BINDING: &str = "qdx::lab::binding";
        /// A device is bound twice.
        pub const BOUND_TWICE: &str = "qdx::lab::bound_twice";
        /// A lab file has a second `lab` block.
        pub const DUPLICATE_BLOCK: &str = "qdx::lab::duplicate_block";
        /// The lab's name is empty.
        pub const EMPTY_NAME: &str = "qdx::lab::empty_name";
        /// A flush rate is outside what the bound pump can run.
        pub const FLUSH_RATE: &str = "qdx::lab::flush_rate";
        /// A measurement's integration time is outside what the bound spectrometer takes.
        pub const INTEGRATION: &str = "qdx::lab::integration";
        /// A spectrometer's channels need light sources its binding cannot give.
        pub const LIGHT_SOURCES: &str = "qdx::lab::light_sources";
        /// A light's binding names what switches it wrongly: no such spectrometer, one not bound, or a lamp output already in use.
        pub const LIGHT_SWITCH: &str = "qdx::lab::light_switch";
        /// Warning: a light bound as `manual` stays on through every spectrum, the dark ones included.
        pub const MANUAL_LIGHT: &str = "qdx::lab::manual_light";
        /// A binding lacks a setting its driver needs.
        pub const MISSING_SETTING: &str = "qdx::lab::missing_setting";
        /// A lab file has no `lab` block.
        pub const NO_LAB_BLOCK: &str = "qdx::lab::no_lab_block";
        /// A bound pump cannot withdraw, so its syringe cannot be refilled.
        pub const NO_WITHDRAW: &str = "qdx::lab::no_withdraw";
        /// A lab file holds something besides its `lab` block.
        pub const NOT_A_LAB_ITEM: &str = "qdx::lab::not_a_lab_item";
        /// A device is bound whose role no driver plays (a passive device).
        pub const NOT_DRIVEN: &str = "qdx::lab::not_driven";
        /// The campaign runs parallel lines (`lines a, b`), which a lab binding cannot bind yet.
        pub const PARALLEL_LINES: &str = "qdx::lab::parallel_lines";
        /// Two bindings share a serial port they cannot share.
        pub const PORT_CONFLICT: &str = "qdx::lab::port_conflict";
        /// The campaign asks a pump for a rate above what the bound pump runs.
        pub const RATE_ABOVE_CAPABILITY: &str = "qdx::lab::rate_above_capability";
        /// The campaign asks a pump for a rate below what the bound pump runs.
        pub const RATE_BELOW_CAPABILITY: &str = "qdx::lab::rate_below_capability";
        /// Warning: rates below the slowest the bound pump runs are rounded.
        pub const RATES_ROUNDED: &str = "qdx::lab::rates_rounded";
        /// Warning: a proxy needs a reference dye measured on an instrument; it is not computed.
        pub const REFERENCE_DYE: &str = "qdx::lab::reference_dye";
        /// A refill rate is outside what the bound pump can run.
        pub const REFILL_RATE: &str = "qdx::lab::refill_rate";
        /// A safe setpoint is outside what the binding accepts or the runtime enforces.
        pub const SAFE_SETPOINT: &str = "qdx::lab::safe_setpoint";
        /// A device is set over a range the bound instrument does not accept.
        pub const SETPOINT_OUTSIDE_CAPABILITY: &str = "qdx::lab::setpoint_outside_capability";
        /// Warning: the binding does not say which setpoints the instrument accepts.
        pub const SETPOINT_RANGE_UNKNOWN: &str = "qdx::lab::setpoint_range_unknown";
        /// A binding gives a setting twice.
        pub const SETTING_TWICE: &str = "qdx::lab::setting_twice";
        /// A binding's setting has a value of the wrong type.
        pub const SETTING_TYPE: &str = "qdx::lab::setting_type";
        /// A lab file has a `simulate` block.
        pub const SIMULATE_IN_LAB: &str = "qdx::lab::simulate_in_lab";
        /// A device of the campaign is not bound to an instrument.
        pub const UNBOUND_DEVICE: &str = "qdx::lab::unbound_device";
        /// A binding names a device the campaign does not have.
        pub const UNKNOWN_DEVICE: &str = "qdx::lab::unknown_device";
        /// A binding names a driver kind qdx does not have.
        pub const UNKNOWN_DRIVER: &str = "qdx::lab::unknown_driver";
        /// A binding gives a setting its driver does not have.
        pub const UNKNOWN_SETTING: &str = "qdx::lab::unknown_setting";
        /// The lab names a valve's positions but not one the plan turns it to.
        pub const UNNAMED_POSITION: &str = "qdx::lab::unnamed_position";
        /// A valve has positions in the campaign that the bound valve does not have.
        pub const VALVE_POSITIONS: &str = "qdx::lab::valve_positions";
        /// Warning: a spectrometer covers fewer wavelengths than the campaign declares.
        pub const WAVELENGTH_COVERAGE: &str = "qdx::lab::wavelength_coverage";
        /// A device is bound to a driver of another role.
        pub const WRONG_ROLE: &str = "qdx::lab::wrong_role";
    }

    /// Planning the experiments of a checked campaign.
    pub mod plan {
        /// The design cannot be built.
        pub const DESIGN: &str = "qdx::plan::design";
        /// The design has more experiments than qdx plans.
        pub const DESIGN_TOO_LARGE: &str = "qdx::plan::design_too_large";
        /// A fixed design uses more of a stock than the reagent budget allows.
        pub const REAGENT_BUDGET: &str = "qdx::plan::reagent_budget";
        /// A planned experiment breaks a limit, is not finite, or needs more than a syringe holds.
        pub const REFUSED: &str = "qdx::plan::refused";
        /// A fixed design takes longer than the time budget allows.
        pub const TIME_BUDGET: &str = "qdx::plan::time_budget";
    }

    /// Formatting (`qdx fmt`).
    pub mod format {
        /// The formatted text fails its own check (parses differently, loses a comment): a bug.
        pub const INTERNAL: &str = "qdx::format::internal";
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use super::all;

    #[test]
    fn each_code_is_qdx_stage_and_its_name_in_lower_case() {
        for c in all() {
            assert_eq!(
                c.code,
                format!("qdx::{}::{}", c.stage, c.name.to_lowercase()),
                "the constant {}::{}",
                c.stage,
                c.name
            );
        }
    }

    #[test]
    fn no_two_constants_share_a_code() {
        let mut seen: BTreeMap<&str, String> = BTreeMap::new();
        for c in all() {
            let here = format!("{}::{}", c.stage, c.name);
            if let Some(first) = seen.insert(c.code, here.clone()) {
                panic!("{first} and {here} are both `{}`", c.code);
            }
        }
    }

    #[test]
    fn every_code_has_its_line() {
        for c in all() {
            assert!(!c.doc.is_empty(), "{} has no doc line", c.code);
        }
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }

    /// A code written inline instead of as a constant would escape the catalog (and [`all`]).
    #[test]
    fn no_code_is_written_outside_the_catalog() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let catalog = src.join("diagnostic").join("codes.rs");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        assert!(
            files.contains(&catalog),
            "the catalog is {}",
            catalog.display()
        );
        let needle = concat!('"', "qdx::");
        let mut found = Vec::new();
        for file in files.iter().filter(|f| **f != catalog) {
            let text = std::fs::read_to_string(file).expect("a source file");
            for (n, line) in text.lines().enumerate() {
                if line.contains(needle) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "diagnostic codes written as literals; add them to src/diagnostic/codes.rs:\n{}",
            found.join("\n")
        );
    }
}
